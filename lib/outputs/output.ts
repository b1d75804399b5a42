/** The contract of a middleware output: something done with each resolved identity. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PeerIdentity } from '../identity/peer-identity.js';

/**
 * Something the middleware does with each resolved identity (`res.locals`, span attributes,
 * metrics). Built once at factory time; the middleware calls it guarded, so a throw never breaks
 * the request.
 */
export type IdentityOutput = (identity: PeerIdentity, req: IncomingMessage, res: ServerResponse) => void;
