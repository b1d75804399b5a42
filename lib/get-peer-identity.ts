/**
 * `getPeerIdentity(req)`: the identity of a request for any code that has the request (morgan
 * tokens, pino-http hooks, handlers on a bare `node:https` server). It composes the registry with
 * the TLS source, which is why it sits here and not in `identity/` (which never reads a socket).
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { defaultCertificateCache } from './certificate/cache.js';
import type { PeerIdentity } from './identity/peer-identity.js';
import { attachPeerIdentity, peekPeerIdentity } from './identity/registry.js';
import { TlsSocketSource } from './sources/tls-socket.js';

let defaultSource: TlsSocketSource | undefined;

/** The TLS source with the process-default certificate cache. */
export function defaultTlsSource(): TlsSocketSource {
  return (defaultSource ??= new TlsSocketSource({ certificates: defaultCertificateCache() }));
}

/**
 * The peer identity of a request: the one `mtlsIdentity()` resolved for it; before or without the
 * middleware, the identity of the request's own TLS connection (read once per connection with the
 * process-default certificate cache, then attached to the request so morgan tokens see it too).
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
  const identity = defaultTlsSource().resolve(req as IncomingMessage);
  attachPeerIdentity(req as IncomingMessage, identity);
  return identity;
}
