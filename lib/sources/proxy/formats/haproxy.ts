/**
 * HAProxy: `http-request set-header X-SSL-Client-Cert %[ssl_c_der,base64]` (base64 DER, empty
 * without a certificate) paired with `http-request set-header X-SSL-Client-Verify %[ssl_c_verify]`
 * (the numeric `X509_V_ERR_*` result, 0 for success; HAProxy configuration manual section 7.3.4).
 * With `verify optional` plus `ca-ignore-err`/`crt-ignore-err` HAProxy forwards certificates that
 * failed verification, so the verify header decides and is required.
 */
import type { ProxyFormat } from './format.js';
import { decodeBase64 } from './decoding.js';
import { forwardedOutcome } from './verify.js';

/** HAProxy `ssl_c_der,base64` + `ssl_c_verify`. */
export const haproxyFormat: ProxyFormat = {
  name: 'haproxy',
  headers: { cert: 'x-ssl-client-cert', verify: 'x-ssl-client-verify' },
  read(header) {
    const cert = header('cert');
    return forwardedOutcome(
      cert === undefined ? undefined : decodeBase64(cert.trim()),
      header('verify'),
      'missing',
    );
  },
};
