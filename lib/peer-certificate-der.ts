/**
 * The client certificate's DER from a TLS socket, read cheaply. Node's `getPeerCertificate()`
 * builds an object of every field (three fingerprints, the public key, the names as objects):
 * ~55-115 µs on the first call per connection, the largest cost the library added to a new
 * connection. `getSession()` serialises the connection's OpenSSL session, whose ASN.1 holds the
 * peer certificate as received: ~340k fewer instructions per connection (docs/performance.md).
 * So the DER is taken from there,
 * and Node's own reader is the fallback and the check:
 * - the first certificate read through the session in a process is compared with
 *   `getPeerCertificate().raw`; if they ever differ (a TLS library with another session format),
 *   the session path is switched off for the process;
 * - a session without a peer certificate is confirmed with `getPeerCertificate()`, which is cheap
 *   when there is no certificate to describe.
 * The session also holds the connection's secrets; the copy we get is zeroed, all but the
 * certificate's own bytes, which are handed out as a view of it: copying them cost ~10 µs per
 * connection in a busy server (cold caches), more than locating them.
 */
import { readElement } from './der.js';

/** The socket methods used here (a `tls.TLSSocket`, or HTTP/2's socket proxy). */
export interface PeerCertificateSocket {
  getSession?(): Uint8Array | null | undefined;
  getPeerCertificate?(): object | null;
}

/**
 * What {@link readPeerCertificateDer} found: the DER (the caller's own bytes: a view of a session
 * copy that nothing else holds, zeroed around the certificate), `'none'` when
 * the client sent no certificate, `'unavailable'` when the socket can no longer tell (destroyed).
 */
export type PeerCertificateDer = Uint8Array | 'none' | 'unavailable';

/** `SSL_SESSION_ASN1_VERSION` of OpenSSL 1.1 and 3.x (ssl/ssl_asn1.c). */
const SESSION_ASN1_VERSION = 1;
/** `peer [3] EXPLICIT Certificate OPTIONAL` in OpenSSL's SSL_SESSION_ASN1. */
const PEER_TAG = 0xa3;

type SessionPath = 'unchecked' | 'checked' | 'off';
let sessionPath: SessionPath = 'unchecked';

/**
 * Reads the client certificate of `socket`. Never throws for a malformed session; the socket's own
 * methods may throw (HTTP/2's socket proxy once its session is gone).
 */
export function readPeerCertificateDer(socket: PeerCertificateSocket): PeerCertificateDer {
  if (sessionPath !== 'off' && typeof socket.getSession === 'function') {
    const session = socket.getSession();
    if (session instanceof Uint8Array) {
      const located = locatePeerCertificate(session);
      if (located === undefined) {
        session.fill(0);
      } else {
        session.fill(0, 0, located.start);
        session.fill(0, located.end);
      }
      const der = located === undefined ? undefined : session.subarray(located.start, located.end);
      if (der !== undefined) {
        if (sessionPath === 'checked') return der;
        // First certificate of the process: trust the session format only if Node agrees.
        const fromNode = nodePeerCertificate(socket);
        if (fromNode !== 'unavailable') {
          sessionPath = fromNode instanceof Uint8Array && Buffer.compare(fromNode, der) === 0 ? 'checked' : 'off';
        }
        return fromNode;
      }
    }
  }
  return nodePeerCertificate(socket);
}

function nodePeerCertificate(socket: PeerCertificateSocket): PeerCertificateDer {
  const peer = socket.getPeerCertificate?.() as { raw?: unknown } | null | undefined;
  // A destroyed socket gives null; no certificate gives {}.
  if (peer === null || peer === undefined) return 'unavailable';
  const raw = peer.raw;
  return raw instanceof Uint8Array ? raw : 'none';
}

/**
 * Where the peer certificate sits in a DER `SSL_SESSION` (OpenSSL's SSL_SESSION_ASN1: version,
 * ssl_version, cipher, session_id, master_key, [0] key_arg, [1] time, [2] timeout, [3] peer, ...),
 * or undefined when it has none or the data is not that structure.
 */
export function locatePeerCertificate(session: Uint8Array): { start: number; end: number } | undefined {
  try {
    const outer = readElement(session, 0, session.length);
    if (outer.tag !== 0x30 || outer.end !== session.length) return undefined;
    const version = readElement(session, outer.contentStart, outer.end);
    if (version.tag !== 0x02 || version.end - version.contentStart !== 1 || session[version.contentStart] !== SESSION_ASN1_VERSION) {
      return undefined;
    }
    let position = version.end;
    while (position < outer.end) {
      const element = readElement(session, position, outer.end);
      // Fields are in tag order: past [3] there is no peer certificate.
      if (element.tag === PEER_TAG) {
        const certificate = readElement(session, element.contentStart, element.end);
        if (certificate.tag !== 0x30 || certificate.end !== element.end) return undefined;
        return { start: certificate.start, end: certificate.end };
      }
      if ((element.tag & 0xc0) === 0x80 && element.tagNumber > 3) return undefined;
      position = element.end;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** Test hook: forget the process-wide check (and a switch-off). */
export function resetSessionPathForTests(): void {
  sessionPath = 'unchecked';
}

/** Whether the session path is in use: `'unchecked'` until the first certificate, then `'checked'` or `'off'`. */
export function sessionPathState(): SessionPath {
  return sessionPath;
}
