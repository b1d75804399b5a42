import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { caddyFormat } from '../../../../lib/sources/proxy/formats/caddy.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>): ForwardedCertificate =>
  caddyFormat.read((role) => values[role], { maxChainLength: 8 });

test('caddy: certificate_der_base64', async () => {
  const { valid } = (await getTestPki()).clients;
  const b64 = Buffer.from(valid.der).toString('base64');
  assert.deepEqual(caddyFormat.headers, { cert: 'x-client-cert' });
  assert.deepEqual(read({ cert: b64 }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({}), { kind: 'none' });
  // Caddy 2.6 sends its placeholder unreplaced when there is no client certificate.
  assert.deepEqual(read({ cert: '{http.request.tls.client.certificate_der_base64}' }), { kind: 'none' });
  assert.throws(() => read({ cert: '{not a placeholder}' }), ProxyHeaderError);
  assert.deepEqual(read({ cert: b64, verify: 'FAILED:certificate not trusted' }), {
    kind: 'failed',
    reason: 'CERT_UNTRUSTED',
    der: valid.der,
  });
  assert.throws(() => read({ cert: `${b64}====` }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
  // base64url is not what Caddy writes.
  assert.throws(() => read({ cert: b64.replace(/\+/g, '-').replace(/\//g, '_') + '-_' }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
});

test('caddy: with a verify header configured, an absent one is PROXY_VERIFY_MISSING', async () => {
  const { valid } = (await getTestPki()).clients;
  const b64 = Buffer.from(valid.der).toString('base64');
  const roles = new Set(['cert', 'verify']);
  const readWith = (values: Record<string, string>): ForwardedCertificate =>
    caddyFormat.read((role) => values[role], { maxChainLength: 8, roles });
  assert.deepEqual(readWith({ cert: b64 }), { kind: 'failed', reason: 'PROXY_VERIFY_MISSING', der: valid.der });
  assert.deepEqual(readWith({ cert: b64, verify: 'SUCCESS' }), { kind: 'verified', der: valid.der });
  assert.deepEqual(readWith({}), { kind: 'none' });
});
