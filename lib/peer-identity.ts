/**
 * How an identity is attached to a request, and how anything (morgan tokens, pino-http hooks,
 * handlers on a bare `node:https` server) reads it back: `getPeerIdentity(req)`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { PeerIdentity } from './types.js';
import { CertificateCache } from './identity-cache.js';
import { TlsSocketSource } from './tls-socket-source.js';

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

// A symbol-keyed property rather than a WeakMap: one monomorphic store per request instead of an
// ephemeron entry the garbage collector must track, and Symbol.for lets two copies of the library
// (ESM and CommonJS, two versions) see each other's identities.
const PEER_IDENTITY = Symbol.for('mtls-observability.peerIdentity');

type WithIdentity = { [PEER_IDENTITY]?: PeerIdentity };

/** Records `identity` as the one of `req` (the middleware's result wins over any earlier one). */
export function attachPeerIdentity(req: IncomingMessage, identity: PeerIdentity): void {
  (req as WithIdentity)[PEER_IDENTITY] = identity;
}

/**
 * The identity attached to `req`, without ever touching the socket: for outputs that run after
 * the response (the socket may be destroyed by then), such as morgan tokens.
 */
export function peekPeerIdentity(req: IncomingMessage): PeerIdentity | undefined {
  return (req as WithIdentity)[PEER_IDENTITY];
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
  const attached = (req as WithIdentity)[PEER_IDENTITY];
  if (attached !== undefined) return attached;
  const socket = (req as { socket?: unknown }).socket;
  if (typeof socket !== 'object' || socket === null) return undefined;
  defaultSource ??= new TlsSocketSource({ certificates: new CertificateCache() });
  const identity = defaultSource.resolve(req as IncomingMessage);
  (req as WithIdentity)[PEER_IDENTITY] = identity;
  return identity;
}
