// Named re-exports only: one module per concern lives beside this file.
export { MtlsError, CertificateParseError, isMtlsError, MTLS_ERROR_CODES } from './errors.js';
export type { MtlsErrorCode } from './errors.js';
export type { DnAttribute, SubjectAltNames, PeerCertificate, PeerIdentity } from './types.js';
export { parseCertificate } from './certificate.js';
