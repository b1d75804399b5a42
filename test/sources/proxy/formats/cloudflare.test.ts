import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { cloudflareFormat } from '../../../../lib/sources/proxy/formats/cloudflare.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>): ForwardedCertificate =>
  cloudflareFormat.read((role) => values[role], { maxChainLength: 8 });

test('cloudflare: DER base64 with its SHA-256 and a verify header', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const cert = Buffer.from(valid.der).toString('base64');
  const hash = createHash('sha256').update(valid.der).digest('hex');
  assert.deepEqual(read({ cert, hash, verify: 'SUCCESS' }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({ cert, hash: hash.toUpperCase(), verify: 'SUCCESS' }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({ cert, verify: 'FAILED:unable to get local issuer certificate' }), {
    kind: 'failed',
    reason: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    der: valid.der,
  });
  // Fields are filled regardless of validation: no verify header, no trust.
  assert.deepEqual(read({ cert, hash }), { kind: 'failed', reason: 'PROXY_VERIFY_MISSING', der: valid.der });
  const otherHash = createHash('sha256').update(untrusted.der).digest('hex');
  assert.deepEqual(read({ cert, hash: otherHash, verify: 'SUCCESS' }), { kind: 'failed', reason: 'CERT_HASH_MISMATCH' });
  // Later requests on a connection carry no certificate.
  assert.deepEqual(read({}), { kind: 'none' });
});
