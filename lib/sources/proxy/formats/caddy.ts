/**
 * Caddy: `header_up X-Client-Cert {http.request.tls.client.certificate_der_base64}` in the
 * `reverse_proxy` block (base64 DER of the leaf; `header_up` replaces any copy the client sent).
 * Caddy has no "verified" placeholder (caddyserver/caddy#3585): with `client_auth { mode
 * require_and_verify }` (or `verify_if_given`) every forwarded certificate was verified. A
 * `verify` header name may be configured when the deployment adds one; it is then required
 * (absent or empty is `PROXY_VERIFY_MISSING`).
 *
 * Without a client certificate Caddy (seen with 2.6.2) leaves the placeholder unreplaced and sends
 * the literal text `{http.request.tls.client.certificate_der_base64}`: that means no certificate.
 */
import type { ProxyFormat } from './format.js';
import { decodeBase64 } from './decoding.js';
import { forwardedOutcome, optionalVerifyHeader } from './verify.js';

const UNREPLACED_PLACEHOLDER = /^\{[a-z0-9_.]+\}$/;

/** Caddy `{http.request.tls.client.certificate_der_base64}`. */
export const caddyFormat: ProxyFormat = {
  name: 'caddy',
  headers: { cert: 'x-client-cert' },
  optionalRoles: ['verify'],
  read(header, limits) {
    const cert = header('cert');
    return forwardedOutcome(
      cert === undefined || UNREPLACED_PLACEHOLDER.test(cert) ? undefined : decodeBase64(cert.trim()),
      header('verify'),
      optionalVerifyHeader(limits),
    );
  },
};
