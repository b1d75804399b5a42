import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { CertificateCache } from '../../lib/certificate/cache.js';
import { certificateJson } from '../../lib/certificate/json.js';
import type { PeerCertificate } from '../../lib/certificate/peer-certificate.js';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

/** The expected JSON text of a certificate, written out field by field. */
function expectedJson(c: PeerCertificate, san: string, spiffe?: string): string {
  return (
    `{"subject":${JSON.stringify(c.subject)},"issuer":"CN=mtls-observability development CA",` +
    `"serialNumber":"${c.serialNumber}","fingerprint256":"${c.fingerprint256}",` +
    `"notBefore":"${c.notBefore.toISOString()}","notAfter":"${c.notAfter.toISOString()}",` +
    `"san":${san}${spiffe === undefined ? '' : `,"spiffeId":"${spiffe}"`}}`
  );
}

test('a certificate from parseCertificate alone serialises to its identity fields: no DER, ISO dates', () => {
  const certificate = parseCertificate(pki.clients.valid.der);
  assert.equal(
    JSON.stringify(certificate),
    expectedJson(
      certificate,
      '{"dns":["alice.example.org"],"uri":["spiffe://example.org/ns/demo/sa/alice"],"email":[],"ip":[]}',
      'spiffe://example.org/ns/demo/sa/alice',
    ),
  );
  assert.equal(certificate.subject, 'CN=alice,O=mtls-observability demo');
  // The DER stays on the object; toJSON is not one of its fields.
  assert.deepEqual(certificate.der, pki.clients.valid.der);
  assert.ok(!Object.keys(certificate).includes('toJSON'));
  assert.deepEqual(Object.keys(certificate), ['subject', 'issuer', 'subjectAttributes', 'serialNumber', 'fingerprint256', 'notBefore', 'notAfter', 'san', 'der', 'spiffeId']);
  assert.deepEqual({ ...certificate }, certificate);
});

test('the hostile subject serialises log-safe; subjectAttributes, whose values are unescaped, is left out', () => {
  const certificate = parseCertificate(pki.clients.hostile.der);
  const json = JSON.stringify(certificate);
  assert.equal(json, expectedJson(certificate, '{"dns":[],"uri":[],"email":[],"ip":[]}'));
  assert.ok(json.includes('"subject":"CN=mallory\\\\\\"\\\\0A127.0.0.1 - admin'), json);
  assert.ok(!json.includes('\\n'));
  assert.equal(certificate.subjectAttributes[1]![0]!.value.includes('\n'), true);
});

test('the certificate cache freezes certificates with their toJSON', () => {
  const cache = new CertificateCache();
  const cached = cache.get(pki.clients.expired.der, 'verified');
  assert.ok(Object.isFrozen(cached));
  assert.equal(Object.getOwnPropertyDescriptor(cached, 'toJSON')?.enumerable, false);
  assert.equal(JSON.stringify(cached), JSON.stringify(parseCertificate(pki.clients.expired.der)));
  assert.ok(!JSON.stringify(cached).includes('"der"'));
});

test('certificateJson: SAN strings with log-unsafe characters are percent-encoded; the same frozen object per certificate', () => {
  const parsed = parseCertificate(pki.clients.valid.der);
  // Not what a well-formed certificate holds (IA5String is ASCII), but what a malformed one could.
  const certificate: PeerCertificate = {
    ...parsed,
    san: { dns: ['a\u0085b'], uri: ['spiffe://x/\u2028y'], email: ['e\u00adf@example.org'], ip: [] },
    spiffeId: 'spiffe://x/\u2028y',
  };
  const json = certificateJson(certificate);
  assert.deepEqual(json.san, { dns: ['a%C2%85b'], uri: ['spiffe://x/%E2%80%A8y'], email: ['e%C2%ADf@example.org'], ip: [] });
  assert.equal(json.spiffeId, 'spiffe://x/%E2%80%A8y');
  assert.equal(certificateJson(certificate), json);
  assert.ok(Object.isFrozen(json) && Object.isFrozen(json.san) && Object.isFrozen(json.san.dns));
  // Without dates, the keys are left out.
  const undated = certificateJson({ ...parsed, notBefore: new Date(Number.NaN), notAfter: new Date(Number.NaN) });
  assert.ok(!JSON.stringify(undated).includes('"not'));
});
