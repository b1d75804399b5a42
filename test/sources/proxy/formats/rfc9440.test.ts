import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { rfc9440Format } from '../../../../lib/sources/proxy/formats/rfc9440.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>, maxChainLength = 8): ForwardedCertificate =>
  rfc9440Format.read((role) => values[role], { maxChainLength });
const sf = (der: Uint8Array): string => `:${Buffer.from(der).toString('base64')}:`;

test('rfc9440: Client-Cert byte sequence, Client-Cert-Chain list', async () => {
  const pki = await getTestPki();
  const { valid } = pki.clients;
  assert.deepEqual(rfc9440Format.headers, { cert: 'client-cert', chain: 'client-cert-chain' });
  assert.deepEqual(read({ cert: sf(valid.der) }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({ cert: sf(valid.der), chain: sf(pki.ca.der) }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({}), { kind: 'none' });
  assert.deepEqual(read({ cert: sf(valid.der), verify: 'FAILED:certificate has expired' }), {
    kind: 'failed',
    reason: 'CERT_HAS_EXPIRED',
    der: valid.der,
  });
  const tooLong = (fn: () => unknown): void =>
    assert.throws(fn, (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_CHAIN_TOO_LONG');
  tooLong(() => read({ cert: sf(valid.der), chain: `${sf(pki.ca.der)}, ${sf(pki.ca.der)}` }, 2));
  const invalid = (fn: () => unknown): void =>
    assert.throws(fn, (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
  invalid(() => read({ cert: Buffer.from(valid.der).toString('base64') }));
  invalid(() => read({ cert: sf(valid.der), chain: 'not a list' }));
});
