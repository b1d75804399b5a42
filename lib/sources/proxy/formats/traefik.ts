/**
 * Traefik's `passTLSClientCert` middleware with `pem: true`: `X-Forwarded-Tls-Client-Cert` holds
 * each presented certificate as bare base64 DER (PEM armour and newlines removed), leaf first,
 * joined by `,`. Traefik 2.8 to 2.9.1 also URL-escaped it (traefik/traefik#9412), which is undone.
 * Traefik sends no verify header: with `clientAuthType: RequireAndVerifyClientCert` (or
 * `VerifyClientCertIfGiven`) every forwarded certificate was verified. A `verify` header name may
 * be configured when the deployment adds one; it is then required (absent or empty is
 * `PROXY_VERIFY_MISSING`).
 */
import type { ProxyFormat } from './format.js';
import { checkChainLength } from '../limits.js';
import { decodeBase64, percentDecode } from './decoding.js';
import { forwardedOutcome, optionalVerifyHeader } from './verify.js';

/** Traefik `X-Forwarded-Tls-Client-Cert` (base64 DER chain, comma-separated). */
export const traefikFormat: ProxyFormat = {
  name: 'traefik',
  headers: { cert: 'x-forwarded-tls-client-cert' },
  // The `info` variant (Traefik's own subject order, decimal serial) is not read.
  companionHeaders: ['x-forwarded-tls-client-cert-info'],
  optionalRoles: ['verify'],
  read(header, limits) {
    const cert = header('cert');
    let der: Uint8Array | undefined;
    if (cert !== undefined) {
      const members = percentDecode(cert).split(',');
      checkChainLength(members.length, limits.maxChainLength);
      const decoded = members.map((member) => decodeBase64(member.trim()));
      der = decoded[0];
    }
    return forwardedOutcome(der, header('verify'), optionalVerifyHeader(limits));
  },
};
