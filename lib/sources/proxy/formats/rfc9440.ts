/**
 * RFC 9440 (Client-Cert HTTP header field): `Client-Cert` is an RFC 8941 Byte Sequence of the
 * leaf's DER (`:base64:`), `Client-Cert-Chain` a List of Byte Sequences of the rest of the chain
 * (section 2). RFC 9440 leaves validation to the terminating proxy's configuration, so presence
 * means verified; a `verify` header name may be configured (e.g. Cloudflare's
 * `cf.tls_client_auth.cert_verified`) and then decides: absent or empty is `PROXY_VERIFY_MISSING`
 * (Cloudflare fills `Client-Cert` for certificates it did not verify, too).
 */
import type { ProxyFormat } from './format.js';
import { decodeSfByteSequence, decodeSfByteSequenceList } from './decoding.js';
import { forwardedOutcome, optionalVerifyHeader } from './verify.js';

/** RFC 9440 `Client-Cert` (+ `Client-Cert-Chain`, checked against the chain limit). */
export const rfc9440Format: ProxyFormat = {
  name: 'rfc9440',
  headers: { cert: 'client-cert', chain: 'client-cert-chain' },
  optionalRoles: ['verify'],
  read(header, limits) {
    const cert = header('cert');
    const der = cert === undefined ? undefined : decodeSfByteSequence(cert);
    const chain = header('chain');
    // The chain is not used for the identity, but a malformed or oversized one is still refused.
    if (chain !== undefined) decodeSfByteSequenceList(chain, Math.max(0, limits.maxChainLength - 1));
    return forwardedOutcome(der, header('verify'), optionalVerifyHeader(limits));
  },
};
