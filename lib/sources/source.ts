/** The contract every identity source (the TLS socket, a trusted proxy's headers) fulfils. */
import type { IncomingMessage } from 'node:http';
import type { PeerIdentity } from '../identity/peer-identity.js';

/**
 * Where an identity comes from. `resolve` runs once per request, must be cheap on repeated
 * connections and must never throw: bad input becomes an identity with `verify: 'FAILED:<reason>'`
 * or `'NONE'`.
 */
export interface IdentitySource {
  resolve(req: IncomingMessage): PeerIdentity;
}
