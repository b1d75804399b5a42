/**
 * The log line `observeTlsServer()` writes for each failed TLS handshake, in a text form that sits
 * beside `mtls-combined` access lines and a JSON form that sits beside `mtls-json` lines.
 *
 * Text (the first fields are those of the combined format, so grepping by address or date finds
 * both kinds of line; then `key=value` pairs like the `verify=` pairs of `mtls-combined`):
 *
 *     127.0.0.1 - - [27/Nov/2026:07:50:01 +0000] "TLS handshake failed" outcome=rejected reason=CERT_HAS_EXPIRED verify=FAILED:CERT_HAS_EXPIRED tls_version=- remote_port=51234 error_code=ECONNRESET
 *
 * JSON (same key names as `mtls-json` where they mean the same thing: `time`, `remote_addr`,
 * `peer_cert_verify`; absent values are left out):
 *
 *     {"time":"2026-11-27T07:50:01.123Z","event":"tls_handshake_failed","remote_addr":"127.0.0.1","remote_port":51234,"outcome":"rejected","reason":"CERT_HAS_EXPIRED","peer_cert_verify":"FAILED:CERT_HAS_EXPIRED","error_code":"ECONNRESET"}
 *
 * Every value is escaped (lib/internal/log-safe.ts) so that a line can never be split or forged, whatever
 * the input, and cut to `MAX_LOG_FIELD_LENGTH` with a visible marker.
 */

import { IDENTITY_REASONS, type VerifyResult } from '../identity/peer-identity.js';
import { hexEscapeCharacter, logUnsafePatternWith, stringifyLogSafe, truncateLogField } from '../internal/log-safe.js';
import { clfDate, eventTime, logDate } from '../internal/log-date.js';

/** How a failed handshake is classified. */
export type HandshakeFailureOutcome =
  /** The client certificate was missing or failed verification, or the client tried to change it by renegotiating. */
  | 'rejected'
  /** Anything else: plain HTTP on the TLS port, a health check's connect-and-close, version or cipher mismatch, a timeout. */
  | 'failed';

/** One failed TLS handshake, as passed to `onHandshakeFailure` and written to the log. */
export interface TlsHandshakeFailure {
  /** When the failure was observed. */
  readonly time: Date;
  /** The client's IP address, when Node still knew it. */
  readonly remoteAddress?: string;
  /** The client's TCP port, when Node still knew it. */
  readonly remotePort?: number;
  /** `rejected` for client-certificate failures, `failed` for everything else. */
  readonly outcome: HandshakeFailureOutcome;
  /**
   * With `rejected`: Node/OpenSSL's verification code (`CERT_HAS_EXPIRED`,
   * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, ...), `CERT_MISSING`, or for a TLS 1.2 renegotiation that
   * `observeTlsServer` refused, Node's `ERR_TLS_RENEGOTIATION_DISABLED` (`ERR_TLS_SESSION_ATTACK`
   * past Node's own renegotiation limit). With `failed`: one of
   * {@link HANDSHAKE_NOISE_REASONS}. Always low-cardinality; this is the metrics' `error.type`.
   */
  readonly reason: string;
  /** The negotiated protocol (`TLSv1.3`), when the handshake got far enough and Node still knew it. */
  readonly tlsVersion?: string;
  /** Node's error code for the failure (`ECONNRESET`, `ERR_SSL_HTTP_REQUEST`, ...). */
  readonly errorCode?: string;
}

/** `reason` values of handshakes that failed for reasons other than the client certificate. */
export const HANDSHAKE_NOISE_REASONS = {
  /** Plain HTTP sent to the TLS port (`ERR_SSL_HTTP_REQUEST`). */
  plainHttp: 'plain_http',
  /** The peer closed or reset the connection before the handshake finished: TCP health checks, scanners, clients that refuse our server certificate without an alert. */
  connectionClosed: 'connection_closed',
  /** The handshake did not finish within the server's `handshakeTimeout`. */
  timeout: 'timeout',
  /** No common TLS version. */
  protocolMismatch: 'protocol_mismatch',
  /** No common cipher suite, group or signature algorithm. */
  cipherMismatch: 'cipher_mismatch',
  /** The client sent a TLS alert (for example, it does not trust our server certificate). */
  clientAlert: 'client_alert',
  /** Anything not classified above (semantic conventions' `_OTHER`). */
  other: '_OTHER',
} as const;

/** Output forms of the failure line. */
export type HandshakeLogFormat = 'text' | 'json';

/** `verify` vocabulary of access lines, for a rejected handshake. */
export function verifyOf(failure: Pick<TlsHandshakeFailure, 'outcome' | 'reason'>): VerifyResult | undefined {
  if (failure.outcome !== 'rejected') return undefined;
  return failure.reason === IDENTITY_REASONS.certificateMissing ? 'NONE' : `FAILED:${failure.reason}`;
}

/** One line, without the trailing newline. */
export function formatHandshakeFailure(failure: TlsHandshakeFailure, format: HandshakeLogFormat): string {
  return format === 'json' ? formatJson(failure) : formatText(failure);
}

// Unquoted fields end at whitespace, and `"` or `\` would fake quoting or an escape: all of them
// are escaped besides the log-unsafe characters, in one pass.
const FIELD_UNSAFE = logUnsafePatternWith(String.raw`\s"\\`, 'gu');

/**
 * An unquoted text field: whitespace, `"`, `\` and every log-unsafe character become `\XX` per
 * UTF-8 byte (the same escape style as the DN strings), so no value can split the line or fake
 * another field; then bounded like every logged field. Empty or absent prints `-` like morgan.
 */
function textField(value: string | number | undefined): string {
  if (value === undefined) return '-';
  const text = String(value);
  if (text.length === 0) return '-';
  return truncateLogField(text.replace(FIELD_UNSAFE, hexEscapeCharacter));
}

function formatText(f: TlsHandshakeFailure): string {
  return (
    `${textField(f.remoteAddress)} - - [${clfDate(eventTime(f.time))}] "TLS handshake failed"` +
    ` outcome=${textField(f.outcome)} reason=${textField(f.reason)} verify=${textField(verifyOf(f))}` +
    ` tls_version=${textField(f.tlsVersion)} remote_port=${textField(portOf(f.remotePort))}` +
    ` error_code=${textField(f.errorCode)}`
  );
}

function formatJson(f: TlsHandshakeFailure): string {
  const record = {
    time: logDate(eventTime(f.time)),
    event: 'tls_handshake_failed',
    remote_addr: bounded(nonEmpty(f.remoteAddress)),
    remote_port: portOf(f.remotePort),
    outcome: f.outcome,
    reason: bounded(f.reason),
    peer_cert_verify: bounded(verifyOf(f)),
    tls_version: bounded(nonEmpty(f.tlsVersion)),
    error_code: bounded(nonEmpty(f.errorCode)),
  };
  return stringifyLogSafe(record);
}

function bounded(value: string | undefined): string | undefined {
  return typeof value === 'string' ? truncateLogField(value) : value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function portOf(port: number | undefined): number | undefined {
  return typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535 ? port : undefined;
}
