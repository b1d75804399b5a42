import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isMtlsError } from '../../../../lib/errors.js';
import { ProxyHeaderError } from '../../../../lib/sources/proxy/formats/format.js';
import { decodeBase64, decodeSfByteSequence, decodeSfByteSequenceList, pemCertificates, percentDecode, percentEncodedPemCertificates } from '../../../../lib/sources/proxy/formats/decoding.js';
import { getTestPki } from '../../../helpers/pki.js';

function assertReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProxyHeaderError);
    assert.equal(err.code, 'ERR_MTLS_HEADER_INVALID');
    assert.equal(err.reason, reason);
    return true;
  });
}

test('percentDecode: strict RFC 3986 decoding, plus stays plus', () => {
  assert.equal(percentDecode('a%2Bb+c%3d%0A'), 'a+b+c=\n');
  assert.equal(percentDecode('plain'), 'plain');
  assert.equal(percentDecode(''), '');
  for (const bad of ['%', '%4', '%G0', 'a%zz', '%%41']) assertReason(() => percentDecode(bad), 'HEADER_INVALID');
  // Non-ASCII results are not PEM.
  assertReason(() => percentDecode('%C3%A9'), 'HEADER_INVALID');
  assertReason(() => percentDecode('é'), 'HEADER_INVALID');
  assertReason(() => percentDecode('%00'), 'HEADER_INVALID');
});

test('decodeBase64: alphabet, padding optional, nothing else', () => {
  assert.deepEqual([...decodeBase64('AQID')], [1, 2, 3]);
  assert.deepEqual([...decodeBase64('AQI=')], [1, 2]);
  assert.deepEqual([...decodeBase64('AQI')], [1, 2]);
  assert.deepEqual([...decodeBase64('AQ==')], [1]);
  assert.deepEqual([...decodeBase64('AQ')], [1]);
  for (const bad of ['', 'A', 'AQ=', 'AQ===', 'A Q I D', 'AQID\n', 'AQ-_', '====', 'AQ==AQ==', 'AQID=']) {
    assertReason(() => decodeBase64(bad), 'HEADER_INVALID');
  }
});

test('property: decodeBase64 inverts Buffer base64, with and without padding', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
      const encoded = Buffer.from(bytes).toString('base64');
      assert.deepEqual(decodeBase64(encoded), bytes);
      assert.deepEqual(decodeBase64(encoded.replace(/=+$/, '')), bytes);
    }),
  );
});

test('pemCertificates: leaf first, whitespace tolerated, garbage and long chains refused', async () => {
  const pki = await getTestPki();
  const { valid, untrusted } = pki.clients;
  const both = pemCertificates(`${valid.certPem}\r\n${untrusted.certPem}`, 8);
  assert.deepEqual(both, [valid.der, untrusted.der]);
  assert.deepEqual(pemCertificates(`\n${valid.certPem}\n\n`, 1), [valid.der]);
  assertReason(() => pemCertificates(`${valid.certPem}${untrusted.certPem}`, 1), 'HEADER_CHAIN_TOO_LONG');
  assertReason(() => pemCertificates(`junk${valid.certPem}`, 8), 'HEADER_INVALID');
  assertReason(() => pemCertificates(`${valid.certPem}junk`, 8), 'HEADER_INVALID');
  assertReason(() => pemCertificates('', 8), 'HEADER_INVALID');
  assertReason(() => pemCertificates('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----', 8), 'HEADER_INVALID');
  assertReason(() => pemCertificates(valid.certPem.replace('-----END CERTIFICATE-----', ''), 8), 'HEADER_INVALID');
  assertReason(() => pemCertificates('-----BEGIN CERTIFICATE-----'.repeat(1000), 8), 'HEADER_CHAIN_TOO_LONG');
  // nginx (encodeURIComponent-like) and AWS ALB (+=/ left as is) encodings decode the same.
  assert.deepEqual(percentEncodedPemCertificates(encodeURIComponent(valid.certPem), 1), [valid.der]);
  const albStyle = encodeURIComponent(valid.certPem).replace(/%2B/g, '+').replace(/%3D/g, '=').replace(/%2F/g, '/');
  assert.deepEqual(percentEncodedPemCertificates(albStyle, 1), [valid.der]);
});

test('RFC 8941 byte sequences and lists', () => {
  assert.deepEqual([...decodeSfByteSequence(':AQID:')], [1, 2, 3]);
  assert.deepEqual([...decodeSfByteSequence(' :AQID:;a=1;b ')], [1, 2, 3]);
  assert.deepEqual(decodeSfByteSequenceList(':AQ==:, :Ag==:', 2).map((b) => [...b]), [[1], [2]]);
  assert.deepEqual(decodeSfByteSequenceList('', 2), []);
  for (const bad of ['AQID', ':AQID', 'AQID:', ':AQ ID:', ':AQID:x', '"AQID"', '::', ':AQID:;a="x"']) {
    assertReason(() => decodeSfByteSequence(bad), 'HEADER_INVALID');
  }
  assertReason(() => decodeSfByteSequenceList(':AQ==:,,:Ag==:', 8), 'HEADER_INVALID');
  assertReason(() => decodeSfByteSequenceList(':AQ==:,:Ag==:,:Aw==:', 2), 'HEADER_CHAIN_TOO_LONG');
});

test('property: decoders throw nothing but the library error', () => {
  const decoders: ((s: string) => unknown)[] = [
    percentDecode,
    decodeBase64,
    (s) => pemCertificates(s, 4),
    (s) => percentEncodedPemCertificates(s, 4),
    decodeSfByteSequence,
    (s) => decodeSfByteSequenceList(s, 4),
  ];
  const input = fc.oneof(
    fc.string(),
    fc.string({ unit: fc.constantFrom('%', 'A', '=', ':', ',', ';', '-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', '\n', '2', 'F') }),
  );
  fc.assert(
    fc.property(input, (text) => {
      for (const decode of decoders) {
        try {
          decode(text);
        } catch (err) {
          assert.ok(isMtlsError(err), String(err));
        }
      }
    }),
  );
});
