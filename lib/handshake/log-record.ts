/**
 * The OpenTelemetry log record of a failed TLS handshake (`mtls.handshake.failure`), built from
 * the same {@link TlsHandshakeFailure} as the log line and `onHandshakeFailure`.
 *
 * Severity: `WARN` for a rejected client certificate (missing, failed verification, refused
 * renegotiation), `DEBUG` for failures that are not about the certificate (plain HTTP, health
 * checks that connect and close, version or cipher mismatch, timeouts), which are mostly noise.
 */
import type { MtlsLogRecord } from '../outputs/log-records.js';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CLIENT_PORT,
  ATTR_ERROR_TYPE,
  ATTR_MTLS_CLIENT_VERIFY,
  ATTR_MTLS_HANDSHAKE_OUTCOME,
  ATTR_TLS_PROTOCOL_VERSION,
  ERROR_TYPE_OTHER,
  EVENT_MTLS_HANDSHAKE_FAILURE,
} from '../outputs/semconv.js';
import { boundedReason, protocolVersionOf } from '../outputs/metrics.js';
import { truncateLogField } from '../internal/log-safe.js';
import { verifyOf, type TlsHandshakeFailure } from './log-line.js';

/** The log record of `failure`. Attribute values are bounded (`error.type` is a code, `_OTHER` otherwise). */
export function handshakeFailureRecord(failure: TlsHandshakeFailure): MtlsLogRecord {
  const errorType = boundedReason(failure.reason) ?? ERROR_TYPE_OTHER;
  const version = protocolVersionOf(failure.tlsVersion);
  const verify = verifyOf(failure);
  const port = failure.remotePort;
  const attributes: Record<string, string | number> = {
    [ATTR_ERROR_TYPE]: errorType,
    [ATTR_MTLS_HANDSHAKE_OUTCOME]: failure.outcome,
  };
  if (version !== undefined) attributes[ATTR_TLS_PROTOCOL_VERSION] = version;
  if (verify !== undefined) attributes[ATTR_MTLS_CLIENT_VERIFY] = truncateLogField(verify);
  if (typeof failure.remoteAddress === 'string' && failure.remoteAddress.length > 0) {
    attributes[ATTR_CLIENT_ADDRESS] = truncateLogField(failure.remoteAddress);
  }
  if (typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) attributes[ATTR_CLIENT_PORT] = port;
  return {
    eventName: EVENT_MTLS_HANDSHAKE_FAILURE,
    severity: failure.outcome === 'rejected' ? 'WARN' : 'DEBUG',
    body: `TLS handshake ${failure.outcome === 'rejected' ? 'rejected' : 'failed'}: ${errorType}`,
    time: failure.time,
    attributes,
  };
}
