// Named re-exports only: one module per concern lives beside this file.
export { MtlsError, CertificateParseError, CertificateTooLargeError, isMtlsError, MTLS_ERROR_CODES } from './errors.js';
export type { MtlsErrorCode, CertificateErrorCode } from './errors.js';
export type { DnAttribute, SubjectAltNames, PeerCertificate, PeerIdentity } from './types.js';
export { parseCertificate, DEFAULT_MAX_CERTIFICATE_BYTES, MAX_SUBJECT_ALT_NAMES } from './certificate.js';
export type { ParseCertificateOptions } from './certificate.js';
export { MAX_NAME_ATTRIBUTES } from './distinguished-name.js';
export { mtlsIdentity, DEFAULT_LOCALS_KEY } from './middleware.js';
export type { MtlsIdentityOptions, MtlsIdentityMiddleware } from './middleware.js';
export { getPeerIdentity } from './peer-identity.js';
export {
  CertificateCache,
  certificateCacheWeight,
  DEFAULT_CERTIFICATE_CACHE_SIZE,
  DEFAULT_CERTIFICATE_CACHE_BYTES,
  DEFAULT_UNVERIFIED_CACHE_SIZE,
  DEFAULT_UNVERIFIED_CACHE_BYTES,
} from './identity-cache.js';
export type { CertificateCacheOptions, CertificateTrust } from './identity-cache.js';
export { TLS_SOURCE, TLS_SOURCE_REASONS } from './tls-socket-source.js';
export {
  registerMorganTokens,
  mtlsJsonFormat,
  MORGAN_TOKEN_NAMES,
  MORGAN_FORMAT_NAMES,
  MTLS_COMBINED_FORMAT,
} from './morgan.js';
export type { MorganLike, MorganTokenFunction, MorganFormatFunction, RegisterMorganTokensOptions } from './morgan.js';
export {
  PROXY_FORMAT_NAMES,
  DEFAULT_MAX_PROXY_HEADER_BYTES,
  DEFAULT_MAX_PROXY_CHAIN_LENGTH,
} from './proxy-source.js';
export type { ProxyFormatName, ProxySourceOptions, UntrustedProxyHeadersEvent } from './proxy-source.js';
export { PROXY_FAILURE_REASONS } from './proxy-formats/encoding.js';
export type { ProxyFailureReason } from './proxy-formats/encoding.js';
export { parseXfcc, serializeXfccElement } from './proxy-formats/envoy-xfcc.js';
export type { XfccElement } from './proxy-formats/envoy-xfcc.js';
export { compileTrustedProxies } from './trusted-proxies.js';
export type { TrustedProxyMatcher } from './trusted-proxies.js';
// Handshakes, traces and metrics.
export { observeTlsServer, classifyTlsClientError } from './tls-server.js';
export type { ObserveTlsServerOptions, TlsServerObserver, HandshakeLogDestination } from './tls-server.js';
export { formatHandshakeFailure, HANDSHAKE_NOISE_REASONS } from './handshake-log.js';
export type { TlsHandshakeFailure, HandshakeFailureOutcome, HandshakeLogFormat } from './handshake-log.js';
export { startIncomingSpanHook, spanAttributesOf } from './tracing.js';
export type { TracingOptions } from './tracing.js';
export {
  DEFAULT_EXPIRY_WARNING_SECONDS,
  DEFAULT_RECENT_CERTIFICATE_SECONDS,
  TIME_LEFT_BUCKETS,
} from './metrics.js';
export type { MetricsOptions, CertificateExpiryMetricsOptions } from './metrics.js';
export * as mtlsAttributes from './attributes.js';
