/**
 * What a `'tlsClientError'` means: a client certificate that was refused (`rejected`, with the
 * OpenSSL reason) or a failure that is not about the certificate (`failed`, with a noise class).
 */
import { IDENTITY_REASONS, reasonCodeOr } from '../identity/peer-identity.js';
import { HANDSHAKE_NOISE_REASONS, type TlsHandshakeFailure } from './log-line.js';

/**
 * Classifies `'tlsClientError'`: a certificate reason (`rejected`) or a noise class (`failed`).
 */
export function classifyTlsClientError(
  errorCode: string | undefined,
  authorizationError: unknown,
): Pick<TlsHandshakeFailure, 'outcome' | 'reason'> {
  if (typeof authorizationError === 'string' && authorizationError.length > 0) {
    return { outcome: 'rejected', reason: reasonCodeOr(authorizationError, HANDSHAKE_NOISE_REASONS.other) };
  }
  switch (errorCode) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return { outcome: 'rejected', reason: IDENTITY_REASONS.certificateMissing };
    case 'ERR_SSL_HTTP_REQUEST':
    case 'ERR_SSL_HTTPS_PROXY_REQUEST':
      return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.plainHttp };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.connectionClosed };
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
    case 'ETIMEDOUT':
      return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.timeout };
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_VERSION_TOO_LOW':
    case 'ERR_SSL_UNKNOWN_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
    case 'ERR_SSL_UNSUPPORTED_SSL_VERSION':
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
      return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.protocolMismatch };
    case 'ERR_SSL_NO_SHARED_CIPHER':
    case 'ERR_SSL_NO_CIPHERS_AVAILABLE':
    case 'ERR_SSL_NO_SHARED_GROUPS':
    case 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM':
    case 'ERR_SSL_NO_SUITABLE_KEY_SHARE':
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
      return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.cipherMismatch };
    default:
      if (typeof errorCode === 'string' && /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/.test(errorCode)) {
        return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.clientAlert };
      }
      return { outcome: 'failed', reason: HANDSHAKE_NOISE_REASONS.other };
  }
}
