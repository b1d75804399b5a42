/**
 * The identity of the request's own TLS connection (`source: 'tls'`): Node's verification verdict
 * (`authorized` / `authorizationError`) plus the parsed client certificate, read once per
 * handshake of the connection.
 */
import type { IncomingMessage } from 'node:http';
import { isMtlsError } from './errors.js';
import { type CertificateCache, type ConnectionIdentityCache, sharedConnectionCache } from './identity-cache.js';
import type { IdentitySource } from './peer-identity.js';
import type { PeerIdentity } from './types.js';

/** `PeerIdentity.source` of identities read from the TLS connection. */
export const TLS_SOURCE = 'tls';

/**
 * `PeerIdentity.reason` values the TLS source adds to Node/OpenSSL's verification codes. All come
 * with `verify: 'NONE'` except where noted.
 */
export const TLS_SOURCE_REASONS = {
  /** The client presented no certificate. Node itself reports `UNABLE_TO_GET_ISSUER_CERT` here. */
  certificateMissing: 'CERT_MISSING',
  /** The request did not arrive over TLS (plain HTTP), so there can be no client certificate. */
  notTls: 'NOT_TLS',
  /** The connection was already closed when the identity was first asked for. */
  connectionClosed: 'CONNECTION_CLOSED',
  /**
   * `verify: 'FAILED:...'`: a TLS 1.2 renegotiation was under way when the identity was read, so
   * no certificate on the connection is authenticated yet; the next request reads it again.
   */
  renegotiationInProgress: 'RENEGOTIATION_IN_PROGRESS',
  /** `verify: 'FAILED:...'`: Node rejected the client and gave no reason (not seen in practice). */
  unknown: 'UNKNOWN',
} as const;

/** The parts of a `tls.TLSSocket` used here (also what HTTP/2's socket proxy forwards). */
interface TlsSocketLike {
  readonly encrypted?: unknown;
  readonly authorized?: unknown;
  readonly authorizationError?: unknown;
  readonly destroyed?: unknown;
  getPeerCertificate?(): object | null;
  getProtocol?(): string | null;
  getCipher?(): object | undefined;
  /** Node's TLS binding; `verifyError()` is OpenSSL's verify result for the current certificate. */
  readonly _handle?: { verifyError?(): unknown } | null;
  once?(event: 'secure', listener: () => void): unknown;
}

/** Options of {@link TlsSocketSource}. */
export interface TlsSocketSourceOptions {
  /** Parsed certificates shared across connections. */
  readonly certificates: CertificateCache;
  /** Identities per connection. Default: the process-wide cache. */
  readonly connections?: ConnectionIdentityCache;
}

function noCertificate(reason: string): PeerIdentity {
  return Object.freeze({ verified: false, verify: 'NONE', reason, source: TLS_SOURCE });
}

const MISSING = noCertificate(TLS_SOURCE_REASONS.certificateMissing);
const NOT_TLS = noCertificate(TLS_SOURCE_REASONS.notTls);
const CLOSED = noCertificate(TLS_SOURCE_REASONS.connectionClosed);

function failed(reason: string, certificate?: PeerIdentity['certificate']): PeerIdentity {
  return Object.freeze({
    verified: false,
    verify: `FAILED:${reason}`,
    reason,
    source: TLS_SOURCE,
    ...(certificate ? { certificate } : {}),
  });
}

const RENEGOTIATING = failed(TLS_SOURCE_REASONS.renegotiationInProgress);

/**
 * The connection a request's identity belongs to. Under the HTTP/2 compatibility API
 * `req.socket` is a new proxy per stream, so key on the session's socket, which is stable for
 * the connection.
 */
export function connectionSocketOf(req: IncomingMessage): object | undefined {
  if (req.httpVersionMajor === 2) {
    const session = (req as { stream?: { session?: { socket?: unknown } } }).stream?.session;
    const socket = session?.socket;
    if (typeof socket === 'object' && socket !== null) return socket;
  }
  const socket: unknown = req.socket;
  return typeof socket === 'object' && socket !== null ? socket : undefined;
}

/**
 * Reads the identity from the TLS connection, cached per connection until its next handshake.
 * Never throws.
 *
 * TLS 1.2 lets a client renegotiate, presenting another certificate on the same connection. Node
 * then emits `'secure'` again, sets `authorizationError` for a certificate that fails, but never
 * clears `authorized` once it was true. So `verified` needs both flags, and a renegotiable
 * connection's entry is dropped on its next `'secure'`, so the next request reads the certificate
 * that is authenticated now.
 */
export class TlsSocketSource implements IdentitySource {
  readonly #certificates: CertificateCache;
  readonly #connections: ConnectionIdentityCache;

  constructor(options: TlsSocketSourceOptions) {
    this.#certificates = options.certificates;
    this.#connections = options.connections ?? sharedConnectionCache;
  }

  resolve(req: IncomingMessage): PeerIdentity {
    try {
      const socket = connectionSocketOf(req);
      if (socket === undefined) return CLOSED;
      const cached = this.#connections.get(socket);
      if (cached !== undefined) return cached;
      const identity = this.#read(socket as TlsSocketLike);
      if (identity === NOT_TLS) this.#connections.set(socket, identity, false);
      else if (identity !== CLOSED && identity !== RENEGOTIATING) this.#remember(socket, socket as TlsSocketLike, identity);
      return identity;
    } catch {
      // HTTP/2's socket proxy throws ERR_HTTP2_SOCKET_UNBOUND once its session is gone.
      return CLOSED;
    }
  }

  #remember(key: object, socket: TlsSocketLike, identity: PeerIdentity): void {
    // TLS 1.3 has no renegotiation: its certificate cannot change.
    const renegotiable = socket.getProtocol?.() !== 'TLSv1.3';
    if (renegotiable) {
      if (typeof socket.once !== 'function') return; // cannot learn of a renegotiation: never cache
      const connections = this.#connections;
      socket.once('secure', () => connections.delete(key));
    }
    this.#connections.set(key, identity, renegotiable);
  }

  #read(socket: TlsSocketLike): PeerIdentity {
    // Checked first: HTTP/2's socket proxy answers from the stream once the session is gone, so
    // `encrypted` would read as undefined and the request would look like plain HTTP.
    if (socket.destroyed === true) return CLOSED;
    if (socket.encrypted !== true) return NOT_TLS;
    // A destroyed socket gives null; no certificate gives {} (Node's authorizationError then says
    // UNABLE_TO_GET_ISSUER_CERT, which would misreport a missing certificate as a failed one).
    const peer = socket.getPeerCertificate?.() as { raw?: unknown } | null | undefined;
    if (peer === null || peer === undefined || socket.destroyed === true) return CLOSED;
    const renegotiable = socket.getProtocol?.() !== 'TLSv1.3';
    if (renegotiable && typeof socket.getCipher === 'function' && socket.getCipher() === undefined) return RENEGOTIATING;
    const der = peer.raw;
    if (!(der instanceof Uint8Array)) return MISSING;
    let error = socket.authorizationError;
    if (renegotiable && (error === null || error === undefined)) error = currentVerifyError(socket);
    const verified = socket.authorized === true && (error === null || error === undefined);
    let certificate: PeerIdentity['certificate'];
    try {
      certificate = this.#certificates.get(der, verified ? 'verified' : 'unverified');
    } catch (parseError) {
      return failed(isMtlsError(parseError) ? parseError.code : 'ERR_MTLS_CERT_PARSE');
    }
    if (verified) {
      return Object.freeze({ verified: true, verify: 'SUCCESS', source: TLS_SOURCE, certificate });
    }
    return failed(authorizationReason(error), certificate);
  }
}

/**
 * OpenSSL's verify result for the certificate the connection reports now, or `undefined` when
 * Node does not expose it.
 *
 * Node sets `authorized` and `authorizationError` only when a handshake completes, while OpenSSL
 * reports a renegotiation's certificate as soon as it arrives. Until the client's
 * ChangeCipherSpec Node has no current cipher, so `resolve` sees the handshake is under way; after
 * it, the certificate and the proof of its key (CertificateVerify comes first) are in, but its
 * verdict is not yet in `authorizationError`. Node's TLS binding answers it: `verifyError()` is the
 * call Node itself makes to set `authorizationError` (test/tls-socket-source.test.ts fails if a
 * Node version drops it).
 */
function currentVerifyError(socket: TlsSocketLike): unknown {
  try {
    const result: unknown = socket._handle?.verifyError?.();
    return result ?? undefined;
  } catch {
    return TLS_SOURCE_REASONS.unknown;
  }
}

/** Node sets `authorizationError` to the OpenSSL code string (`CERT_HAS_EXPIRED`). */
function authorizationReason(value: unknown): string {
  if (typeof value === 'string' && /^[A-Z0-9_]{1,64}$/.test(value)) return value;
  const code = (value as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code)) return code;
  return TLS_SOURCE_REASONS.unknown;
}
