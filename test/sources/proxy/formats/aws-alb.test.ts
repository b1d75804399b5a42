import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { awsAlbFormat } from '../../../../lib/sources/proxy/formats/aws-alb.js';
import { getTestPki } from '../../../helpers/pki.js';

const read = (values: Record<string, string>, maxChainLength = 8): ForwardedCertificate =>
  awsAlbFormat.read((role) => values[role], { maxChainLength });
// AWS: URL-encoded PEM "with +=/ as safe characters".
const albEncode = (pem: string): string => encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');

test('aws-alb: verify mode leaf is verified, passthrough chain never is', async () => {
  const pki = await getTestPki();
  const { valid } = pki.clients;
  assert.deepEqual(awsAlbFormat.headers, { leaf: 'x-amzn-mtls-clientcert-leaf', chain: 'x-amzn-mtls-clientcert' });
  assert.deepEqual(read({ leaf: albEncode(valid.certPem) }), { kind: 'verified', der: valid.der });
  assert.deepEqual(read({ chain: albEncode(valid.certPem + pki.ca.certPem) }), {
    kind: 'failed',
    reason: 'PROXY_UNVERIFIED',
    der: valid.der,
  });
  assert.deepEqual(read({}), { kind: 'none' });
  assert.throws(() => read({ chain: albEncode(valid.certPem + pki.ca.certPem) }, 1), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_CHAIN_TOO_LONG');
  assert.throws(() => read({ leaf: albEncode(valid.certPem + pki.ca.certPem) }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_CHAIN_TOO_LONG');
  assert.throws(() => read({ leaf: '%E0%A4%A' }), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
});

test('aws-alb: the passthrough chain wins over a -Leaf header beside it', async () => {
  const pki = await getTestPki();
  assert.deepEqual(read({ chain: albEncode(pki.clients.untrusted.certPem), leaf: albEncode(pki.clients.valid.certPem) }), {
    kind: 'failed',
    reason: 'PROXY_UNVERIFIED',
    der: pki.clients.untrusted.der,
  });
});
