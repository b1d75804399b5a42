/**
 * Attribute and metric names, in one place.
 *
 * The `tls.*`, `error.type` and `network.*` names are OpenTelemetry semantic conventions. Every
 * `tls.*` attribute has Development stability, so, as the `@opentelemetry/semantic-conventions`
 * README asks of instrumentation libraries, they are copied here instead of importing the
 * package's `/incubating` entry point at run time.
 *
 * Semantic conventions have no attribute for a client certificate's serial number, SPIFFE ID or
 * verification verdict; those live in this library's own `mtls.*` namespace (OpenTelemetry's
 * naming guide: never invent names inside an existing semconv namespace such as `tls.*`).
 */

// --- OpenTelemetry semantic conventions (tls registry, Development stability) -----------------

/** Distinguished name of the client certificate's subject (RFC 4514, most-specific RDN first). */
export const ATTR_TLS_CLIENT_SUBJECT = 'tls.client.subject';
/** Distinguished name of the client certificate's issuer. */
export const ATTR_TLS_CLIENT_ISSUER = 'tls.client.issuer';
/** SHA-256 of the client certificate's DER, uppercase hex without separators. */
export const ATTR_TLS_CLIENT_HASH_SHA256 = 'tls.client.hash.sha256';
/** Start of the client certificate's validity, ISO 8601 UTC (`toISOString()`). */
export const ATTR_TLS_CLIENT_NOT_BEFORE = 'tls.client.not_before';
/** End of the client certificate's validity, ISO 8601 UTC (`toISOString()`). */
export const ATTR_TLS_CLIENT_NOT_AFTER = 'tls.client.not_after';
/** Numeric part of the negotiated protocol version: `1.2`, `1.3`. */
export const ATTR_TLS_PROTOCOL_VERSION = 'tls.protocol.version';
/** `true` when the TLS session was resumed. */
export const ATTR_TLS_RESUMED = 'tls.resumed';

// --- OpenTelemetry semantic conventions (Stable) ----------------------------------------------

/** Low-cardinality class of an error; here the certificate failure reason or the handshake failure class. */
export const ATTR_ERROR_TYPE = 'error.type';
/** The fallback `error.type` value for anything outside the known set (semconv's `_OTHER`). */
export const ERROR_TYPE_OTHER = '_OTHER';

// --- mtls.* (this library's namespace) ---------------------------------------------------------

/** Span and audit log records: the client certificate's serial number, uppercase hex (same format as nginx's `$ssl_client_serial`). */
export const ATTR_MTLS_CLIENT_SERIAL_NUMBER = 'mtls.client.serial_number';
/** Span and audit log records: the client certificate's single `spiffe://` URI SAN. */
export const ATTR_MTLS_CLIENT_SPIFFE_ID = 'mtls.client.spiffe_id';
/** Span: the verification verdict in nginx's vocabulary: `SUCCESS`, `FAILED:<reason>` or `NONE`. */
export const ATTR_MTLS_CLIENT_VERIFY = 'mtls.client.verify';
/** Span, metrics and audit log records: where the identity came from: `tls` or a proxy header format name. */
export const ATTR_MTLS_CLIENT_SOURCE = 'mtls.client.source';
/** Metrics: the verification result, lowercase: `success`, `failed` or `none`. */
export const ATTR_MTLS_VERIFY_RESULT = 'mtls.verify.result';
/** Metrics: whether the middleware that counted the request requires a verified certificate (its `require` option). */
export const ATTR_MTLS_VERIFY_REQUIRED = 'mtls.verify.required';
/**
 * Metrics (with `metrics.clients`): the verified client as a label (its SPIFFE ID, subject CN,
 * subject or a function's value, log-safe and bounded), or {@link CLIENT_ID_OTHER} past the limit.
 */
export const ATTR_MTLS_CLIENT_ID = 'mtls.client.id';
/** The `mtls.client.id` value of verified clients beyond `metrics.clients.maxClients`. */
export const CLIENT_ID_OTHER = ERROR_TYPE_OTHER;
/** Metrics: a TLS handshake's outcome: `success`, `rejected` (client certificate) or `failed` (anything else). */
export const ATTR_MTLS_HANDSHAKE_OUTCOME = 'mtls.handshake.outcome';
/** Metrics: what became of a TLS renegotiation: `refused` (the connection was closed) or `completed`. */
export const ATTR_MTLS_RENEGOTIATION_OUTCOME = 'mtls.renegotiation.outcome';
/** Metrics and the unexpected-identity log record: which rule of `expected` an unexpected identity failed: `issuer`, `spiffe_id`, `subject` or `no_certificate`. */
export const ATTR_MTLS_UNEXPECTED_REASON = 'mtls.unexpected.reason';
/** Metrics and the unexpected-identity log record: the `expected.mode` of the middleware that counted it: `observe` or `enforce`. */
export const ATTR_MTLS_EXPECTED_MODE = 'mtls.expected.mode';
/** Metrics: the kind of an identity audit event: `first_seen`, `rotation` or `unexpected`. */
export const ATTR_MTLS_AUDIT_EVENT = 'mtls.audit.event';

// --- Metric names (docs/metrics.md) ------------------------------------------------------------

/** Counter `{request}`: requests seen by `mtlsIdentity()`, by verification result and reason. */
export const METRIC_MTLS_SERVER_REQUESTS = 'mtls.server.requests';
/** Counter `{handshake}`: TLS handshakes seen by `observeTlsServer()`, by outcome and reason. */
export const METRIC_MTLS_SERVER_HANDSHAKES = 'mtls.server.handshakes';
/** Counter `{renegotiation}`: TLS renegotiations seen by `observeTlsServer()`, by outcome. */
export const METRIC_MTLS_SERVER_RENEGOTIATIONS = 'mtls.server.renegotiations';
/** Histogram `s`: remaining validity of each verified client certificate presented, once per connection. */
export const METRIC_MTLS_CLIENT_CERTIFICATE_TIME_LEFT = 'mtls.server.client_certificate.time_left';
/** Gauge `s`: the smallest remaining validity among verified client certificates seen recently (negative once expired). */
export const METRIC_MTLS_CLIENT_CERTIFICATE_MIN_TIME_LEFT = 'mtls.server.client_certificate.min_time_left';
/** Gauge `{certificate}`: distinct verified client certificates seen recently that expire within the warning window. */
export const METRIC_MTLS_CLIENT_CERTIFICATE_EXPIRING = 'mtls.server.client_certificate.expiring';
/** Gauge `s`: per `mtls.client.id`, the soonest `notAfter` (Unix seconds) of its verified certificates seen recently. */
export const METRIC_MTLS_CLIENT_CERTIFICATE_NOT_AFTER = 'mtls.server.client_certificate.not_after';
/** Counter `{request}`: requests of verified clients counted under `mtls.client.id="_OTHER"` (the label table was full). */
export const METRIC_MTLS_SERVER_CLIENT_ID_FOLDED_REQUESTS = 'mtls.server.client_id.folded_requests';
/** Counter `{request}`: requests from untrusted peers that carried forwarded-certificate headers (spoofing attempts). */
export const METRIC_MTLS_SERVER_UNTRUSTED_PROXY_HEADERS = 'mtls.server.untrusted_proxy_headers';
/** Counter `{request}`: requests with a verified identity that `expected` does not list, by reason and mode. */
export const METRIC_MTLS_SERVER_UNEXPECTED_IDENTITIES = 'mtls.server.unexpected_identities';
/** Counter `{event}`: identity audit events (first seen, rotation, unexpected report), by kind. */
export const METRIC_MTLS_SERVER_AUDIT_EVENTS = 'mtls.server.audit_events';

/** Instrumentation scope name used for the tracer and the meter: the npm package name. */
export const INSTRUMENTATION_SCOPE_NAME = 'mtls-observability';

// --- TLS handshake timing and the server's own certificate (observeTlsServer) ------------------

/**
 * Histogram `s`: duration of TLS handshakes on the server, from the TCP connection to the
 * handshake's end; `error.type` on failures, `tls.protocol.version` when known. Modelled on
 * .NET's `kestrel.tls_handshake.duration` semantic convention, in this library's namespace.
 */
export const METRIC_MTLS_SERVER_TLS_HANDSHAKE_DURATION = 'mtls.server.tls_handshake.duration';
/** UpDownCounter `{handshake}`: TLS handshakes in progress (Kestrel's `kestrel.active_tls_handshakes`). */
export const METRIC_MTLS_SERVER_ACTIVE_TLS_HANDSHAKES = 'mtls.server.active_tls_handshakes';
/** Gauge `s`: end of validity of the certificate the server presented on its latest handshake, as Unix time. */
export const METRIC_MTLS_SERVER_CERTIFICATE_NOT_AFTER = 'mtls.server.certificate.not_after';

// --- Log records (observeTlsServer's `logs` option) -----------------------------------------

/** Client address (Stable semantic convention): the peer's IP address as the server saw it. */
export const ATTR_CLIENT_ADDRESS = 'client.address';
/** Client port (Stable semantic convention). */
export const ATTR_CLIENT_PORT = 'client.port';
/** Event name of the log record for each failed TLS handshake. */
export const EVENT_MTLS_HANDSHAKE_FAILURE = 'mtls.handshake.failure';

// --- Log records (mtlsIdentity's `audit.logs` option) -----------------------------------------

/** Event name of the log record for a verified client certificate seen for the first time. */
export const EVENT_MTLS_IDENTITY_FIRST_SEEN = 'mtls.identity.first_seen';
/** Event name of the log record for a known subject or SPIFFE ID with a new serial number. */
export const EVENT_MTLS_IDENTITY_ROTATION = 'mtls.identity.rotation';
/** Event name of the log record for a verified identity `expected` does not list. */
export const EVENT_MTLS_IDENTITY_UNEXPECTED = 'mtls.identity.unexpected';
/** Rotation record: what the new certificate shares with the previous one, `spiffe_id` or `subject`. */
export const ATTR_MTLS_ROTATION_BY = 'mtls.rotation.by';
/** Rotation record: the previous certificate's serial number, uppercase hex. */
export const ATTR_MTLS_ROTATION_PREVIOUS_SERIAL_NUMBER = 'mtls.rotation.previous.serial_number';
/** Rotation record: the previous certificate's SHA-256 fingerprint, uppercase hex (as `tls.client.hash.sha256`). */
export const ATTR_MTLS_ROTATION_PREVIOUS_HASH_SHA256 = 'mtls.rotation.previous.hash.sha256';
