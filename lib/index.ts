// Named re-exports only: one module per concern lives beside this file.
export { MtlsError, CertificateParseError, CertificateTooLargeError, isMtlsError, MTLS_ERROR_CODES } from './errors.js';
export type { MtlsErrorCode, CertificateErrorCode } from './errors.js';
export type { DnAttribute, SubjectAltNames, PeerCertificate } from './certificate/peer-certificate.js';
export type { PeerCertificateJson } from './certificate/json.js';
export { certificateModel } from './certificate/model.js';
export { IDENTITY_REASONS, PROXY_FORMAT_NAMES, TLS_SOURCE, isReasonCode } from './identity/peer-identity.js';
export type { PeerIdentity, PeerIdentityJson, VerifyResult, IdentitySourceName, ProxyFormatName } from './identity/peer-identity.js';
export { parseCertificate, DEFAULT_MAX_CERTIFICATE_BYTES, MAX_SUBJECT_ALT_NAMES } from './certificate/parse.js';
export type { ParseCertificateOptions } from './certificate/parse.js';
export { MAX_NAME_ATTRIBUTES } from './certificate/distinguished-name.js';
export { mtlsIdentity, DEFAULT_LOCALS_KEY } from './middleware.js';
export type {
  MtlsIdentityOptions,
  MtlsIdentityMiddleware,
  CertificatesOption,
  CertificateSizeOptions,
  CertificateCacheOption,
} from './middleware.js';
export { getPeerIdentity } from './get-peer-identity.js';
// Who is calling: expected identities, the record of seen identities and its audit events.
export { UNEXPECTED_IDENTITY_REASONS, DEFAULT_REPORT_WINDOW_SECONDS, MAX_REMEMBERED_REPORTS } from './identity/expected-identities.js';
export type { ExpectedIdentitiesOptions, ExpectedIdentitiesMode, UnexpectedIdentityReason } from './identity/expected-identities.js';
export { IdentityRecord, DEFAULT_IDENTITY_RECORD_SIZE } from './identity/seen-identities.js';
export type { IdentityRecordOptions, SeenIdentity, IdentityAuditEvent, IdentityAuditEventType } from './identity/seen-identities.js';
export { formatIdentityAuditEvent } from './outputs/identity-audit.js';
export type {
  IdentityAuditOptions,
  IdentityAuditOutputOptions,
  IdentityAuditOwnRecordOptions,
  IdentityAuditSharedRecordOptions,
  IdentityAuditLogFormat,
} from './outputs/identity-audit.js';
export {
  CertificateCache,
  certificateCacheWeight,
  defaultCertificateCache,
  DEFAULT_CERTIFICATE_CACHE_SIZE,
  DEFAULT_CERTIFICATE_CACHE_BYTES,
  DEFAULT_UNVERIFIED_CACHE_SIZE,
  DEFAULT_UNVERIFIED_CACHE_BYTES,
} from './certificate/cache.js';
export type { CertificateCacheOptions, CertificateTrust } from './certificate/cache.js';
export { registerMorganTokens, mtlsJsonFormat, MORGAN_FORMAT_NAMES, MTLS_COMBINED_FORMAT } from './outputs/morgan.js';
export { MORGAN_TOKEN_NAMES, mtlsLogFields } from './outputs/identity-fields.js';
export type { MtlsLogFields } from './outputs/identity-fields.js';
export { FORWARDED_CERTIFICATE_REDACT_PATHS } from './structured-logs.js';
export { FORWARDED_CERTIFICATE_HEADER_NAMES } from './sources/proxy/formats/index.js';
export type { MorganLike, MorganTokenFunction, MorganFormatFunction, RegisterMorganTokensOptions } from './outputs/morgan.js';
export { DEFAULT_MAX_PROXY_HEADER_BYTES, DEFAULT_MAX_PROXY_CHAIN_LENGTH } from './sources/proxy/limits.js';
export type { ProxyOptions, CommonProxyOptions, EnvoyProxyOptions, HeaderProxyOptions } from './sources/proxy/options.js';
export type { UntrustedProxyHeadersEvent } from './identity/untrusted-proxy-headers.js';
export { PROXY_FAILURE_REASONS } from './sources/proxy/formats/format.js';
export type { ProxyFailureReason, EnvoyForwardClientCertDetails } from './sources/proxy/formats/format.js';
export { parseXfcc, serializeXfccElement } from './sources/proxy/formats/envoy-xfcc.js';
export type { XfccElement } from './sources/proxy/formats/envoy-xfcc.js';
export { compileTrustedProxies } from './sources/proxy/trust.js';
export type { TrustedProxyMatcher } from './sources/proxy/trust.js';
// Handshakes, traces and metrics.
export { observeTlsServer } from './handshake/observer.js';
export { classifyTlsClientError } from './handshake/classify.js';
export type { ObserveTlsServerOptions, TlsServerObserver, HandshakeLogDestination } from './handshake/observer.js';
export { formatHandshakeFailure, HANDSHAKE_NOISE_REASONS } from './handshake/log-line.js';
export type { TlsHandshakeFailure, HandshakeFailureOutcome, HandshakeLogFormat } from './handshake/log-line.js';
export { spanAttributesOf } from './outputs/tracing.js';
export { startIncomingSpanHook } from './span-hook.js';
export type { TracingOptions } from './outputs/tracing.js';
export {
  DEFAULT_EXPIRY_WARNING_SECONDS,
  DEFAULT_RECENT_CERTIFICATE_SECONDS,
  TIME_LEFT_BUCKETS,
} from './outputs/certificate-expiry.js';
export type { CertificateExpiryMetricsOptions } from './outputs/certificate-expiry.js';
export type { MetricsOptions, RequestMetricsOptions } from './outputs/metrics.js';
export { DEFAULT_MAX_CLIENTS, MAX_CLIENT_ID_LENGTH } from './outputs/client-labels.js';
export type { ClientMetricsOptions, ClientLabelKind, ClientLabelFunction } from './outputs/client-labels.js';
export { TLS_HANDSHAKE_DURATION_BUCKETS } from './outputs/handshake-metrics.js';
export type { LogRecordsOptions, LoggerProviderLike, LoggerLike, OtelLogRecordLike, LogAttributeValue } from './outputs/log-records.js';
export type { AttributesLike, AttributeValueLike, MeterProviderLike } from './outputs/otel-api.js';
export * as mtlsAttributes from './outputs/semconv.js';
