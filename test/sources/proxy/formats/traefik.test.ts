import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { traefikFormat } from '../../../../lib/sources/proxy/formats/traefik.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>, maxChainLength = 8): ForwardedCertificate =>
  traefikFormat.read((role) => values[role], { maxChainLength });
const bare = (pem: string): string => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');

test('traefik: bare base64 chain, leaf first, URL-escaped or not', async () => {
  const pki = await getTestPki();
  const { valid } = pki.clients;
  assert.deepEqual(traefikFormat.headers, { cert: 'x-forwarded-tls-client-cert' });
  assert.deepEqual(read({ cert: bare(valid.certPem) }), { kind: 'verified', der: valid.der });
  const chain = `${bare(valid.certPem)},${bare(pki.ca.certPem)}`;
  assert.deepEqual(read({ cert: chain }), { kind: 'verified', der: valid.der });
  // Traefik 2.8 to 2.9.1 URL-escaped the value.
  assert.deepEqual(read({ cert: encodeURIComponent(chain) }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({}), { kind: 'none' });
  // A configured verify header decides.
  assert.deepEqual(read({ cert: bare(valid.certPem), verify: 'FAILED:certificate revoked' }), {
    kind: 'failed',
    reason: 'CERT_REVOKED',
    der: valid.der,
  });
  assert.throws(() => read({ cert: chain }, 1), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_CHAIN_TOO_LONG');
  assert.throws(() => read({ cert: `${bare(valid.certPem)},` }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
  assert.throws(() => read({ cert: valid.certPem }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
});
