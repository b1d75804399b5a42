/**
 * The identity of the request's own TLS connection (`source: 'tls'`): Node's verification verdict
 * (`authorized` / `authorizationError`) plus the parsed client certificate, read once per
 * handshake of the connection.
 */
import type { IncomingMessage } from 'node:http';
import type { CertificateCache } from '../certificate/cache.js';
import type { PeerCertificate } from '../certificate/peer-certificate.js';
import { isMtlsError } from '../errors.js';
import {
  IDENTITY_REASONS,
  TLS_SOURCE,
  failedIdentity,
  isReasonCode,
  missingIdentity,
  verifiedIdentity,
  type PeerIdentity,
} from '../identity/peer-identity.js';
import { connectionIdentities, connectionOf, type ConnectionIdentities } from '../identity/registry.js';
import type { IdentitySource } from './source.js';

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
  /** Identities per connection. Default: the process-wide registry. */
  readonly connections?: ConnectionIdentities;
}

const MISSING = missingIdentity(TLS_SOURCE, IDENTITY_REASONS.certificateMissing);
const NOT_TLS = missingIdentity(TLS_SOURCE, IDENTITY_REASONS.notTls);
const CLOSED = missingIdentity(TLS_SOURCE, IDENTITY_REASONS.connectionClosed);
const RENEGOTIATING = failedIdentity(TLS_SOURCE, IDENTITY_REASONS.renegotiationInProgress);

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
  readonly #connections: ConnectionIdentities;

  constructor(options: TlsSocketSourceOptions) {
    this.#certificates = options.certificates;
    this.#connections = options.connections ?? connectionIdentities;
  }

  resolve(req: IncomingMessage): PeerIdentity {
    try {
      const socket = connectionOf(req);
      if (socket === undefined) return CLOSED;
      const cached = this.#connections.entry(socket);
      // An identity read with another certificate cache may have been read under other limits.
      if (cached !== undefined && (cached.readBy === this.#certificates || cached.identity === NOT_TLS)) return cached.identity;
      return this.#read(socket, cached === undefined);
    } catch {
      // HTTP/2's socket proxy throws ERR_HTTP2_SOCKET_UNBOUND once its session is gone.
      return CLOSED;
    }
  }

  /**
   * Reads the identity and caches it, unless the connection is closed or mid-handshake. `watch`:
   * no entry existed, so no listener forgets it on the next handshake yet.
   */
  #read(socket: TlsSocketLike, watch: boolean): PeerIdentity {
    // Checked first: HTTP/2's socket proxy answers from the stream once the session is gone, so
    // `encrypted` would read as undefined and the request would look like plain HTTP.
    if (socket.destroyed === true) return CLOSED;
    if (socket.encrypted !== true) {
      this.#connections.set(socket, NOT_TLS, false, this.#certificates);
      return NOT_TLS;
    }
    // A destroyed socket gives null; no certificate gives {} (Node's authorizationError then says
    // UNABLE_TO_GET_ISSUER_CERT, which would misreport a missing certificate as a failed one).
    const peer = socket.getPeerCertificate?.() as { raw?: unknown } | null | undefined;
    if (peer === null || peer === undefined || socket.destroyed === true) return CLOSED;
    // TLS 1.3 has no renegotiation: its certificate cannot change.
    const renegotiable = socket.getProtocol?.() !== 'TLSv1.3';
    if (renegotiable && typeof socket.getCipher === 'function' && socket.getCipher() === undefined) return RENEGOTIATING;
    const identity = this.#identify(socket, peer.raw, renegotiable);
    this.#remember(socket, identity, renegotiable, watch);
    return identity;
  }

  #remember(socket: TlsSocketLike, identity: PeerIdentity, renegotiable: boolean, watch: boolean): void {
    if (renegotiable) {
      if (typeof socket.once !== 'function') return; // cannot learn of a renegotiation: never cache
      const connections = this.#connections;
      if (watch) socket.once('secure', () => connections.delete(socket));
    }
    this.#connections.set(socket, identity, renegotiable, this.#certificates);
  }

  /** The identity the certificate `der` gives, with the connection's verification verdict. */
  #identify(socket: TlsSocketLike, der: unknown, renegotiable: boolean): PeerIdentity {
    if (!(der instanceof Uint8Array)) return MISSING;
    let error = socket.authorizationError;
    if (renegotiable && (error === null || error === undefined)) error = currentVerifyError(socket);
    const verified = socket.authorized === true && (error === null || error === undefined);
    let certificate: PeerCertificate;
    try {
      certificate = this.#certificates.get(der, verified ? 'verified' : 'unverified');
    } catch (parseError) {
      return failedIdentity(TLS_SOURCE, isMtlsError(parseError) ? parseError.code : 'ERR_MTLS_CERT_PARSE');
    }
    return verified ? verifiedIdentity(TLS_SOURCE, certificate) : failedIdentity(TLS_SOURCE, authorizationReason(error), certificate);
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
 * call Node itself makes to set `authorizationError` (test/sources/tls-socket.test.ts fails if a
 * Node version drops it).
 */
function currentVerifyError(socket: TlsSocketLike): unknown {
  try {
    const result: unknown = socket._handle?.verifyError?.();
    return result ?? undefined;
  } catch {
    return IDENTITY_REASONS.unknown;
  }
}

/** Node sets `authorizationError` to the OpenSSL code string (`CERT_HAS_EXPIRED`). */
function authorizationReason(value: unknown): string {
  if (isReasonCode(value)) return value;
  const code = (value as { code?: unknown } | null | undefined)?.code;
  return isReasonCode(code) ? code : IDENTITY_REASONS.unknown;
}
