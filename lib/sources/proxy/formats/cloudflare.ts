/**
 * Cloudflare mTLS client-certificate forwarding (developers.cloudflare.com, "Forward a client
 * certificate"): `Cf-Client-Cert-Der-Base64` (base64 DER) and `Cf-Client-Cert-Sha256`. Cloudflare
 * fills these **whether or not the certificate validated**, so a verify header is required: add
 * one with a Transform Rule set to `cf.tls_client_auth.cert_verified` (`SUCCESS`, `NONE` or
 * `FAILED:<reason>`, nginx's vocabulary), by default named `Cf-Client-Cert-Verified`.
 * Cloudflare adds the legacy headers only to the first request of a connection; later requests
 * on it resolve to `NONE`. Prefer the `rfc9440` format with Transform Rules, which set the
 * headers on every request.
 */
import { createHash } from 'node:crypto';
import type { ProxyFormat } from './format.js';
import { decodeBase64 } from './decoding.js';
import { forwardedOutcome } from './verify.js';

/** Cloudflare `Cf-Client-Cert-Der-Base64` (+ `Cf-Client-Cert-Sha256`) with a verify header. */
export const cloudflareFormat: ProxyFormat = {
  name: 'cloudflare',
  headers: {
    cert: 'cf-client-cert-der-base64',
    hash: 'cf-client-cert-sha256',
    verify: 'cf-client-cert-verified',
  },
  read(header) {
    const cert = header('cert');
    const der = cert === undefined ? undefined : decodeBase64(cert.trim());
    const hash = header('hash');
    if (der !== undefined && hash !== undefined) {
      if (createHash('sha256').update(der).digest('hex') !== hash.trim().toLowerCase()) {
        return { kind: 'failed', reason: 'CERT_HASH_MISMATCH' };
      }
    }
    return forwardedOutcome(der, header('verify'), 'missing');
  },
};
