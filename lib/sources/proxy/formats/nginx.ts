/**
 * nginx: `proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;` (URL-encoded PEM, nginx
 * >= 1.13.5) paired with `proxy_set_header X-SSL-Client-Verify $ssl_client_verify;`
 * (`SUCCESS`, `NONE` or `FAILED:<reason>`, ngx_http_ssl_module). With `ssl_verify_client
 * optional_no_ca` nginx forwards certificates it could not verify, so the verify header decides
 * and is required.
 */
import type { ProxyFormat } from './format.js';
import { percentEncodedPemCertificates } from './decoding.js';
import { forwardedOutcome } from './verify.js';

/** nginx `$ssl_client_escaped_cert` + `$ssl_client_verify`. */
export const nginxFormat: ProxyFormat = {
  name: 'nginx',
  headers: { cert: 'x-ssl-client-cert', verify: 'x-ssl-client-verify' },
  read(header, limits) {
    const cert = header('cert');
    // $ssl_client_escaped_cert has only the leaf: nginx cannot forward the chain.
    const der =
      cert === undefined ? undefined : percentEncodedPemCertificates(cert, limits.maxChainLength)[0];
    return forwardedOutcome(der, header('verify'), 'missing');
  },
};
