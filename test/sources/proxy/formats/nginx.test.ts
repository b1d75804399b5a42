import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { nginxFormat } from '../../../../lib/sources/proxy/formats/nginx.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>): ForwardedCertificate =>
  nginxFormat.read((role) => values[role], { maxChainLength: 8 });

test('nginx: escaped PEM with the verify header', async () => {
  const { valid, expired } = (await getTestPki()).clients;
  const cert = encodeURIComponent(valid.certPem);
  assert.deepEqual(nginxFormat.headers, { cert: 'x-ssl-client-cert', verify: 'x-ssl-client-verify' });
  assert.deepEqual(read({ cert, verify: 'SUCCESS' }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({ verify: 'NONE' }), { kind: 'none' });
  assert.deepEqual(read({}), { kind: 'none' });
  assert.deepEqual(read({ cert: encodeURIComponent(expired.certPem), verify: 'FAILED:certificate has expired' }), {
    kind: 'failed',
    reason: 'CERT_HAS_EXPIRED',
    der: expired.der,
  });
  // optional_no_ca forwards unverified certificates: without the verify header nothing is trusted.
  assert.deepEqual(read({ cert }), { kind: 'failed', reason: 'PROXY_VERIFY_MISSING', der: valid.der });
});

test('nginx: malformed values', async () => {
  const { valid } = (await getTestPki()).clients;
  const invalid = (values: Record<string, string>): void =>
    assert.throws(() => read(values), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
  invalid({ cert: 'garbage', verify: 'SUCCESS' });
  invalid({ cert: encodeURIComponent(valid.certPem).replace('%0A', '%0'), verify: 'SUCCESS' });
  invalid({ cert: encodeURIComponent(valid.certPem), verify: 'maybe' });
  invalid({ cert: encodeURIComponent(valid.certPem), verify: 'NONE' });
  // The deprecated $ssl_client_cert (tab-folded, real newlines) cannot arrive as one header value
  // in Node; a raw-newline PEM is still decodable if a proxy sends one.
  assert.deepEqual(read({ cert: valid.certPem, verify: 'SUCCESS' }), { kind: 'verified', der: valid.der });
});
