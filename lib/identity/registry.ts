/**
 * Where a request's identity is kept, so that anything after the source (the outputs, morgan
 * tokens after the response, `getPeerIdentity`) finds it without reading the socket again: per TLS
 * connection for the identity of the connection itself, per request for any other.
 *
 * Nothing is stored on the request object: Express swaps the prototype of every request, so a
 * property added to it costs a map migration and its reads miss the inline caches. Both maps are
 * process-wide (lib/internal/process-wide.ts), so copies of the library with the same state version
 * see each other's identities.
 */
import type { IncomingMessage } from 'node:http';
import { processWide } from '../internal/process-wide.js';
import type { PeerIdentity } from './peer-identity.js';

/** What the connection registry holds per connection. */
export interface ConnectionIdentity {
  readonly identity: PeerIdentity;
  /**
   * Whether the connection can still change its certificate (TLS 1.2 and older renegotiate; TLS 1.3
   * cannot). A request on such a connection keeps its own copy of the identity it was resolved
   * with, so a renegotiation while it is in flight cannot change what its log line says.
   */
  readonly renegotiable: boolean;
  /**
   * What read it (the source's certificate cache): a source configured differently (another
   * certificate size limit) reads the connection again instead of serving an identity it would not
   * have produced.
   */
  readonly readBy: object;
}

/**
 * The connection a request's identity belongs to. Under the HTTP/2 compatibility API
 * `req.socket` is a new proxy per stream, so the key is the session's socket, which is stable for
 * the connection.
 */
export function connectionOf(req: IncomingMessage): object | undefined {
  if (req.httpVersionMajor === 2) {
    const session = (req as { stream?: { session?: { socket?: unknown } } }).stream?.session;
    const socket = session?.socket;
    if (typeof socket === 'object' && socket !== null) return socket;
  }
  const socket: unknown = req.socket;
  return typeof socket === 'object' && socket !== null ? socket : undefined;
}

/**
 * Identities per TLS connection. Keyed by the socket object (for HTTP/2 the session's socket), so
 * an entry lives exactly as long as the connection is reachable. The TLS source deletes an entry
 * when the connection completes another handshake (a renegotiation), so it is read again.
 */
export class ConnectionIdentities {
  readonly #entries: WeakMap<object, ConnectionIdentity>;

  /** `entries`: the map to keep them in (the process-wide registry passes a shared one). */
  constructor(entries: WeakMap<object, ConnectionIdentity> = new WeakMap()) {
    this.#entries = entries;
  }

  entry(connection: object): ConnectionIdentity | undefined {
    return this.#entries.get(connection);
  }

  set(connection: object, identity: PeerIdentity, renegotiable: boolean, readBy: object): void {
    this.#entries.set(connection, Object.freeze({ identity, renegotiable, readBy }));
  }

  delete(connection: object): void {
    this.#entries.delete(connection);
  }
}

/**
 * The process-wide connection registry. A connection is read once per handshake, and a request on
 * it needs nothing stored per request.
 */
export const connectionIdentities = new ConnectionIdentities(
  processWide('connectionIdentities', () => new WeakMap<object, ConnectionIdentity>()),
);

const requestIdentities = processWide('requestIdentities', () => new WeakMap<object, PeerIdentity>());

/**
 * Records `identity` as the one of `req` (the middleware's result wins over any earlier one). An
 * identity that is already its connection's costs nothing per request, unless the connection can
 * still change it: under HTTP/2 a stream forgets its session once it ends, before morgan asks;
 * on TLS 1.2 a renegotiation replaces the connection's identity, and a request in flight must keep
 * the one it was resolved with.
 */
export function attachPeerIdentity(req: IncomingMessage, identity: PeerIdentity): void {
  if (req.httpVersionMajor === 2 || requestIdentities.has(req)) {
    requestIdentities.set(req, identity);
    return;
  }
  const connection = connectionOf(req);
  const entry = connection === undefined ? undefined : connectionIdentities.entry(connection);
  if (entry === undefined || entry.identity !== identity || entry.renegotiable) requestIdentities.set(req, identity);
}

/**
 * The identity attached to `req`, without ever touching the socket: for outputs that run after
 * the response (the socket may be destroyed by then), such as morgan tokens.
 */
export function peekPeerIdentity(req: IncomingMessage): PeerIdentity | undefined {
  return requestIdentities.get(req) ?? stableConnectionIdentity(req);
}

/**
 * The connection's identity when it is the one of every request on it. On a connection that can
 * renegotiate, a request only has the identity attached to it: the connection's may be newer.
 */
function stableConnectionIdentity(req: IncomingMessage): PeerIdentity | undefined {
  const connection = connectionOf(req);
  const entry = connection === undefined ? undefined : connectionIdentities.entry(connection);
  return entry === undefined || entry.renegotiable ? undefined : entry.identity;
}
