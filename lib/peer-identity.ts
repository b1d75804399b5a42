/**
 * How an identity is attached to a request, and how anything (morgan tokens, pino-http hooks,
 * handlers on a bare `node:https` server) reads it back: `getPeerIdentity(req)`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { PeerIdentity } from './types.js';
import { CertificateCache, sharedConnectionCache } from './identity-cache.js';
import { processWide } from './process-wide.js';
import { TlsSocketSource, connectionSocketOf } from './tls-socket-source.js';

/**
 * Where an identity comes from (the TLS connection, a trusted proxy's header). `resolve` runs once
 * per request, must be cheap on repeated connections and must never throw: bad input becomes an
 * identity with `verify: 'FAILED:<reason>'` or `'NONE'`.
 */
export interface IdentitySource {
  resolve(req: IncomingMessage): PeerIdentity;
}

/**
 * Something the middleware does with each resolved identity (set `res.locals`, span attributes,
 * metrics). Built once at factory time; the middleware calls it guarded, so a throw never breaks
 * the request.
 */
export type IdentityObserver = (identity: PeerIdentity, req: IncomingMessage, res: ServerResponse) => void;

// Where a request's identity is found: the identity of its TLS connection, kept per connection by
// the TLS source (lib/identity-cache.ts), unless one was recorded for this request alone (a trusted
// proxy's header, a failure, a connection that can renegotiate). Nothing is stored on the request
// object itself: Express swaps the prototype of every request, so a property added to it costs a
// map migration and its reads miss the inline caches. Both maps are process-wide, so copies of the
// library with the same state version see each other's identities (lib/process-wide.ts).
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
  const connection = connectionSocketOf(req);
  const entry = connection === undefined ? undefined : sharedConnectionCache.entry(connection);
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
  const connection = connectionSocketOf(req);
  const entry = connection === undefined ? undefined : sharedConnectionCache.entry(connection);
  return entry === undefined || entry.renegotiable ? undefined : entry.identity;
}

let defaultSource: TlsSocketSource | undefined;

/**
 * The peer identity of a request: the one `mtlsIdentity()` resolved for it; before or without the
 * middleware, the identity of the request's own TLS connection (read once per connection, then
 * attached to the request so morgan tokens see it too).
 *
 * Works with Express, Connect, a bare `node:https` handler and the HTTP/2 compatibility API.
 * Behind a trusted proxy, call it after `mtlsIdentity()` ran: before, it can only see the proxy's
 * own connection. Returns `undefined` only when `req` is not a request object. Never throws.
 */
export function getPeerIdentity(req: IncomingMessage | Http2ServerRequest): PeerIdentity | undefined {
  if (typeof req !== 'object' || req === null) return undefined;
  const known = peekPeerIdentity(req as IncomingMessage);
  if (known !== undefined) return known;
  const socket = (req as { socket?: unknown }).socket;
  if (typeof socket !== 'object' || socket === null) return undefined;
  defaultSource ??= new TlsSocketSource({ certificates: new CertificateCache() });
  const identity = defaultSource.resolve(req as IncomingMessage);
  attachPeerIdentity(req as IncomingMessage, identity);
  return identity;
}
