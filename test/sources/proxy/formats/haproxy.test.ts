import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { haproxyFormat } from '../../../../lib/sources/proxy/formats/haproxy.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>): ForwardedCertificate =>
  haproxyFormat.read((role) => values[role], { maxChainLength: 8 });

test('haproxy: base64 DER with the numeric verify result', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const b64 = (der: Uint8Array): string => Buffer.from(der).toString('base64');
  assert.deepEqual(read({ cert: b64(valid.der), verify: '0' }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({ verify: '0' }), { kind: 'none' });
  assert.deepEqual(read({ cert: b64(untrusted.der), verify: '21' }), {
    kind: 'failed',
    reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    der: untrusted.der,
  });
  assert.deepEqual(read({ cert: b64(valid.der) }), { kind: 'failed', reason: 'PROXY_VERIFY_MISSING', der: valid.der });
  assert.throws(() => read({ cert: `${b64(valid.der)}!`, verify: '0' }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
  assert.throws(() => read({ cert: b64(valid.der), verify: 'zero' }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
});
