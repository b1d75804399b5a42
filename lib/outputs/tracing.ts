/**
 * Client identity on the HTTP server span (docs/tracing.md).
 *
 * Which span: `@opentelemetry/instrumentation-http` starts the server span and runs the request
 * listener in a context that holds it twice: as the active span, and in the SDK's "RPC metadata"
 * context entry (`setRPCMetadata`, `@opentelemetry/core`). `@opentelemetry/instrumentation-express`
 * then makes a span per middleware the *active* one, so `trace.getActiveSpan()` inside a middleware
 * is that middleware's span. Express instrumentation itself writes `http.route` to
 * the server span through the RPC metadata. We do the same without depending on
 * `@opentelemetry/core`: the context key is `createContextKey(description)`, which the API defines as
 * `Symbol.for(description)`, so it can be read with the API alone. When the entry is missing (no
 * instrumentation-http, another framework) the active span is used. This coupling is to an
 * SDK-internal key; if it ever changes, attributes land on the active span instead, and the
 * tests in test/outputs/tracing.test.ts fail.
 *
 * Bounds: identity values are log-safe (lib/internal/log-safe.ts) and cut to `MAX_LOG_FIELD_LENGTH` with
 * a visible marker: a client controls its certificate, and a certificate of many kilobytes must
 * not become kilobytes on every span.
 *
 * Cost: a certificate's attributes are computed once per certificate object (the certificate cache
 * shares one per DER), an identity's once per identity object (identities are cached per
 * connection) and reused as one frozen object, only for requests whose span records; without an
 * SDK, a request costs a context lookup and returns.
 */
import type { IncomingMessage } from 'node:http';
import {
  ATTR_MTLS_CLIENT_SERIAL_NUMBER,
  ATTR_MTLS_CLIENT_SOURCE,
  ATTR_MTLS_CLIENT_SPIFFE_ID,
  ATTR_MTLS_CLIENT_VERIFY,
  ATTR_TLS_CLIENT_HASH_SHA256,
  ATTR_TLS_CLIENT_ISSUER,
  ATTR_TLS_CLIENT_NOT_AFTER,
  ATTR_TLS_CLIENT_NOT_BEFORE,
  ATTR_TLS_CLIENT_SUBJECT,
} from './semconv.js';
import { boundedLogText, boundedLogUri } from '../internal/log-safe.js';
import { logDate } from '../internal/log-date.js';
import { isBoolean, type OptionCheck } from '../internal/options.js';
import { otelApi, type AttributesLike, type ContextLike, type SpanLike } from './otel-api.js';
import type { IdentityOutput } from './output.js';
import type { PeerCertificate } from '../certificate/peer-certificate.js';
import type { PeerIdentity } from '../identity/peer-identity.js';

/** Tracing options of `mtlsIdentity()`. */
export interface TracingOptions {
  /**
   * Set the client identity as attributes of the HTTP server span (see docs/tracing.md for the
   * list). Default: `true` (a cheap no-op without an OpenTelemetry SDK).
   */
  readonly tracing?: boolean;
}

/** Checks of {@link TracingOptions}. */
export const TRACING_OPTION_CHECKS: { readonly [K in keyof TracingOptions]-?: OptionCheck } = {
  tracing: isBoolean,
};

/** `createContextKey('OpenTelemetry SDK Context Key RPC_METADATA')` of `@opentelemetry/core`. */
const RPC_METADATA_KEY = Symbol.for('OpenTelemetry SDK Context Key RPC_METADATA');

const attributeCache = new WeakMap<PeerIdentity, AttributesLike>();
const certificateAttributeCache = new WeakMap<PeerCertificate, Readonly<Record<string, string>>>();

/** The certificate fields {@link certificateAttributes} reads (an audit event has them all but `notBefore`). */
export type CertificateAttributeFields = Pick<PeerCertificate, 'subject' | 'issuer' | 'fingerprint256' | 'notAfter' | 'serialNumber' | 'spiffeId'> &
  Partial<Pick<PeerCertificate, 'notBefore'>>;

/**
 * A certificate's attributes: `tls.client.subject`, `tls.client.issuer`, `tls.client.hash.sha256`,
 * `tls.client.not_before` (when given), `tls.client.not_after`, `mtls.client.serial_number` and
 * `mtls.client.spiffe_id` (when present); each log-safe and bounded. The span attributes and the
 * audit log records use the same ones.
 */
export function certificateAttributes(c: CertificateAttributeFields): Record<string, string> {
  const result: Record<string, string> = {};
  result[ATTR_TLS_CLIENT_SUBJECT] = boundedLogText(c.subject);
  result[ATTR_TLS_CLIENT_ISSUER] = boundedLogText(c.issuer);
  result[ATTR_TLS_CLIENT_HASH_SHA256] = boundedLogText(c.fingerprint256);
  const notBefore = c.notBefore === undefined ? undefined : logDate(c.notBefore);
  if (notBefore !== undefined) result[ATTR_TLS_CLIENT_NOT_BEFORE] = notBefore;
  const notAfter = logDate(c.notAfter);
  if (notAfter !== undefined) result[ATTR_TLS_CLIENT_NOT_AFTER] = notAfter;
  result[ATTR_MTLS_CLIENT_SERIAL_NUMBER] = boundedLogText(c.serialNumber);
  if (c.spiffeId !== undefined) result[ATTR_MTLS_CLIENT_SPIFFE_ID] = boundedLogUri(c.spiffeId);
  return result;
}

function certificateAttributesOf(c: PeerCertificate): Readonly<Record<string, string>> {
  let attributes = certificateAttributeCache.get(c);
  if (attributes !== undefined) return attributes;
  attributes = Object.freeze(certificateAttributes(c));
  certificateAttributeCache.set(c, attributes);
  return attributes;
}

/**
 * The span attributes of an identity: `tls.client.subject`, `tls.client.issuer`,
 * `tls.client.hash.sha256`, `tls.client.not_before`, `tls.client.not_after` (when a certificate was
 * parsed), `mtls.client.serial_number`, `mtls.client.spiffe_id` (when present),
 * `mtls.client.verify` and `mtls.client.source`. Each string is log-safe and at most
 * `MAX_LOG_FIELD_LENGTH` characters plus the truncation marker; `res.locals` keeps the full
 * values. The same frozen object for the same identity.
 */
export function spanAttributesOf(identity: PeerIdentity): AttributesLike {
  let attributes = attributeCache.get(identity);
  if (attributes !== undefined) return attributes;
  const c = identity.certificate;
  attributes = Object.freeze({
    ...(c === undefined ? {} : certificateAttributesOf(c)),
    [ATTR_MTLS_CLIENT_VERIFY]: boundedLogText(identity.verify),
    [ATTR_MTLS_CLIENT_SOURCE]: boundedLogText(identity.source),
  });
  attributeCache.set(identity, attributes);
  return attributes;
}

function isSpanLike(value: unknown): value is SpanLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<SpanLike>).setAttributes === 'function' &&
    typeof (value as Partial<SpanLike>).isRecording === 'function'
  );
}

/** The HTTP server span of the current request, or `undefined`. */
export function serverSpanOf(context: ContextLike, getSpan: (context: ContextLike) => SpanLike | undefined): SpanLike | undefined {
  const metadata = context.getValue(RPC_METADATA_KEY) as { span?: unknown } | undefined;
  const span = metadata?.span;
  if (isSpanLike(span)) return span;
  return getSpan(context);
}

/**
 * The middleware output that sets the identity's attributes on the server span. `undefined` when
 * `@opentelemetry/api` is not installed, so the middleware skips it entirely.
 */
export function createSpanObserver(): IdentityOutput | undefined {
  const api = otelApi();
  if (api === undefined) return undefined;
  const { context, trace } = api;
  const getSpan = trace.getSpan.bind(trace);
  return (identity, req) => {
    // Span first: without an SDK (or for an unsampled request) nothing else is computed.
    const span = serverSpanOf(context.active(), getSpan);
    if (span === undefined || !span.isRecording()) return;
    const attributes = spanAttributesOf(identity);
    // The same attributes were already given to the span at its start by startIncomingSpanHook.
    if (attributesFromHook.get(req) === attributes) return;
    span.setAttributes(attributes);
  };
}

/** What {@link spanStartAttributes} returned per request, so the middleware does not set it twice. */
const attributesFromHook = new WeakMap<IncomingMessage, AttributesLike>();

/**
 * The attributes to give the server span at its start (`startIncomingSpanHook`), remembered for
 * the request so the middleware's output does not set the same ones again.
 */
export function spanStartAttributes(identity: PeerIdentity, req: IncomingMessage): AttributesLike {
  const attributes = spanAttributesOf(identity);
  attributesFromHook.set(req, attributes);
  return attributes;
}
