import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { failedIdentity, missingIdentity, verifiedIdentity } from '../../lib/identity/peer-identity.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import type { PeerCertificate } from '../../lib/certificate/peer-certificate.js';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer } from '../helpers/https.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

/** alice's certificate as JSON, field by field. */
function aliceJson(c: PeerCertificate): string {
  return (
    `{"subject":"CN=alice,O=mtls-observability demo","issuer":"CN=mtls-observability development CA",` +
    `"serialNumber":"${c.serialNumber}","fingerprint256":"${c.fingerprint256}",` +
    `"notBefore":"${c.notBefore.toISOString()}","notAfter":"${c.notAfter.toISOString()}",` +
    `"san":{"dns":["alice.example.org"],"uri":["spiffe://example.org/ns/demo/sa/alice"],"email":[],"ip":[]},` +
    `"spiffeId":"spiffe://example.org/ns/demo/sa/alice"}`
  );
}

test('JSON.stringify of an identity: a compact object, the certificate without its DER', () => {
  const certificate = parseCertificate(pki.clients.valid.der);
  const identity = verifiedIdentity('tls', certificate);
  assert.equal(JSON.stringify(identity), `{"verified":true,"verify":"SUCCESS","source":"tls","certificate":${aliceJson(certificate)}}`);
  assert.equal(
    JSON.stringify(failedIdentity('nginx', 'CERT_HAS_EXPIRED', certificate)),
    `{"verified":false,"verify":"FAILED:CERT_HAS_EXPIRED","reason":"CERT_HAS_EXPIRED","source":"nginx","certificate":${aliceJson(certificate)}}`,
  );
  assert.equal(JSON.stringify(missingIdentity('tls')), '{"verified":false,"verify":"NONE","reason":"CERT_MISSING","source":"tls"}');
  assert.equal(
    JSON.stringify(failedIdentity('tls', 'not a code')),
    '{"verified":false,"verify":"FAILED:UNKNOWN","reason":"UNKNOWN","source":"tls"}',
  );
});

test('toJSON is not a field: identities stay frozen and compare as plain objects', () => {
  const certificate = parseCertificate(pki.clients.valid.der);
  const identity = verifiedIdentity('tls', certificate);
  assert.ok(Object.isFrozen(identity));
  assert.deepEqual(Object.keys(identity), ['verified', 'verify', 'source', 'certificate']);
  assert.deepEqual(identity, { verified: true, verify: 'SUCCESS', source: 'tls', certificate });
  assert.deepEqual(missingIdentity('tls', 'NOT_TLS'), { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' });
  assert.equal(typeof (identity as unknown as { toJSON: unknown }).toJSON, 'function');
});

test('an identity whose certificate has no toJSON of its own serialises the same', () => {
  const parsed = parseCertificate(pki.clients.valid.der);
  const bare: PeerCertificate = { ...parsed };
  assert.equal(JSON.stringify(verifiedIdentity('tls', bare)), JSON.stringify(verifiedIdentity('tls', parsed)));
  assert.ok(!JSON.stringify(verifiedIdentity('tls', bare)).includes('"der"'));
});

test('res.json(res.locals.mtls) through a real Express HTTPS server', async () => {
  const app = express();
  app.use(mtlsIdentity({ tracing: false, metrics: false }));
  app.get('/whoami', (_req, res) => {
    res.json(res.locals.mtls);
  });
  const server = await startHttpsServer(app);
  try {
    const valid = await httpsRequest({ port: server.port, path: '/whoami', client: pki.clients.valid });
    assert.equal(valid.status, 200);
    assert.equal(valid.headers['content-type'], 'application/json; charset=utf-8');
    const certificate = parseCertificate(pki.clients.valid.der);
    assert.equal(valid.body, `{"verified":true,"verify":"SUCCESS","source":"tls","certificate":${aliceJson(certificate)}}`);

    const none = await httpsRequest({ port: server.port, path: '/whoami' });
    assert.equal(none.body, '{"verified":false,"verify":"NONE","reason":"CERT_MISSING","source":"tls"}');

    const expired = await httpsRequest({ port: server.port, path: '/whoami', client: pki.clients.expired });
    const expiredCertificate = parseCertificate(pki.clients.expired.der);
    assert.equal(
      expired.body,
      '{"verified":false,"verify":"FAILED:CERT_HAS_EXPIRED","reason":"CERT_HAS_EXPIRED","source":"tls","certificate":' +
        `{"subject":"CN=expired,O=mtls-observability demo","issuer":"CN=mtls-observability development CA",` +
        `"serialNumber":"${expiredCertificate.serialNumber}","fingerprint256":"${expiredCertificate.fingerprint256}",` +
        `"notBefore":"${expiredCertificate.notBefore.toISOString()}","notAfter":"${expiredCertificate.notAfter.toISOString()}",` +
        '"san":{"dns":[],"uri":[],"email":[],"ip":[]}}}',
    );
  } finally {
    await server.close();
  }
});
