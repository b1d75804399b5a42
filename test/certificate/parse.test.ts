import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { parseCertificate, DEFAULT_MAX_CERTIFICATE_BYTES, MAX_SUBJECT_ALT_NAMES } from '../../lib/certificate/parse.js';
import { MAX_NAME_ATTRIBUTES } from '../../lib/certificate/distinguished-name.js';
import { hasLogUnsafe } from '../../lib/internal/log-safe.js';
import { isMtlsError, CertificateParseError, CertificateTooLargeError } from '../../lib/errors.js';
import { createSelfSignedCertificate, generateDevKeyPair } from '../../lib/dev-certs/index.js';
import { VECTOR_ISSUER, buildCertificateVectors, certificationRequestDer, nestedSequences, seededBytes, hostileInputs, HOSTILE_MAX_BYTES, handBuiltVectors, handBuiltCertificate, subjectAltNameExtension, nameDer, tlv } from '../helpers/certificate-vectors.js';

/** Asserts that `input` is rejected with ERR_MTLS_CERT_PARSE and exactly `message`. */
function assertRejected(input: unknown, message: string, maxBytes?: number): void {
  let thrown: unknown;
  try {
    parseCertificate(input as Uint8Array, maxBytes === undefined ? undefined : { maxBytes });
  } catch (error) {
    thrown = error;
  }
  assert.ok(isMtlsError(thrown), `expected an MtlsError, got ${String(thrown)}`);
  assert.ok(thrown instanceof CertificateParseError);
  assert.equal(thrown.code, 'ERR_MTLS_CERT_PARSE');
  assert.equal(thrown.message, message);
}

/** Parses and reports only whether a CertificateParseError (and nothing else) came out. */
function parsesOrRejects(input: Uint8Array): boolean {
  try {
    parseCertificate(input);
    return true;
  } catch (error) {
    if (isMtlsError(error) && error.code === 'ERR_MTLS_CERT_PARSE') return false;
    throw error;
  }
}

const vectors = await buildCertificateVectors();

/** CPU time of this process since `started`, in ms. */
const cpuMilliseconds = (started: NodeJS.CpuUsage): number => {
  const { user, system } = process.cpuUsage(started);
  return (user + system) / 1000;
};

const concat = (...parts: (Uint8Array | number[])[]): Uint8Array => Uint8Array.from(Buffer.concat(parts.map((p) => Uint8Array.from(p))));

describe('parseCertificate: vectors', () => {
  for (const vector of vectors) {
    test(vector.name, () => {
      const parsed = parseCertificate(vector.certificate.der);
      assert.equal(parsed.subject, vector.subject);
      assert.equal(parsed.issuer, VECTOR_ISSUER);
      if (vector.serialNumber !== undefined) assert.equal(parsed.serialNumber, vector.serialNumber);
      if (vector.subjectAttributes !== undefined) assert.deepEqual(parsed.subjectAttributes, vector.subjectAttributes);
      if (vector.san !== undefined) assert.deepEqual(parsed.san, vector.san);
      if (vector.spiffeId !== undefined) assert.equal(parsed.spiffeId, vector.spiffeId ?? undefined);
      if (vector.spiffeId === null) assert.equal(Object.hasOwn(parsed, 'spiffeId'), false);
      if (vector.notBefore !== undefined) assert.equal(parsed.notBefore.toISOString(), vector.notBefore);
      if (vector.notAfter !== undefined) assert.equal(parsed.notAfter.toISOString(), vector.notAfter);
      assert.deepEqual(parsed.der, Uint8Array.from(vector.certificate.der));
      // PEM and DER give the same result.
      assert.deepEqual(parseCertificate(vector.certificate.certPem), parsed);
    });
  }

  test('fingerprint256 is the uppercase SHA-256 of the DER, as Node computes it', () => {
    for (const vector of vectors) {
      const parsed = parseCertificate(vector.certificate.der);
      const node = new X509Certificate(vector.certificate.der).fingerprint256.replaceAll(':', '');
      assert.equal(parsed.fingerprint256, node);
      assert.equal(parsed.fingerprint256, createHash('sha256').update(vector.certificate.der).digest('hex').toUpperCase());
    }
  });

  test('serials and validity agree with Node (OpenSSL) and pkijs on every vector', () => {
    for (const vector of vectors) {
      const parsed = parseCertificate(vector.certificate.der);
      const node = new X509Certificate(vector.certificate.der);
      // Node prints a zero serial as `0`; we keep two digits per byte, like `openssl x509 -serial`.
      if (parsed.serialNumber === '00') assert.equal(node.serialNumber, '0');
      else assert.equal(parsed.serialNumber, node.serialNumber, vector.name);
      const reference = pkijs.Certificate.fromBER(vector.certificate.der);
      assert.equal(parsed.notBefore.getTime(), reference.notBefore.value.getTime(), vector.name);
      assert.equal(parsed.notAfter.getTime(), reference.notAfter.value.getTime(), vector.name);
    }
  });

  test('der is a private copy of the input', () => {
    const input = Buffer.from(vectors[0]!.certificate.der);
    const parsed = parseCertificate(input);
    input[input.length - 1]! ^= 0xff;
    assert.deepEqual(parsed.der, Uint8Array.from(vectors[0]!.certificate.der));
    assert.equal(Object.getPrototypeOf(parsed.der), Uint8Array.prototype);
    // Its buffer holds the certificate only (a small Buffer from base64 would be a pool slice).
    assert.equal(parsed.der.buffer.byteLength, parsed.der.length);
    const fromPem = parseCertificate(vectors[0]!.certificate.certPem);
    assert.equal(fromPem.der.buffer.byteLength, fromPem.der.length);
    assert.equal(Object.getPrototypeOf(fromPem.der), Uint8Array.prototype);
  });
});

describe('parseCertificate: hand-built vectors', () => {
  for (const vector of handBuiltVectors()) {
    test(vector.name, () => {
      assert.equal(parseCertificate(vector.der).subject, vector.subject);
    });
  }
});

describe('parseCertificate: PEM input', () => {
  const first = vectors[0]!.certificate;
  const second = vectors[1]!.certificate;
  const expected = parseCertificate(first.der);
  const body = first.certPem.trim();

  test('text before the first BEGIN CERTIFICATE is ignored', () => {
    assert.deepEqual(parseCertificate(`subject=CN=carol\nissuer=CN=x\n${body}\n`), expected);
  });
  test('CRLF line ends', () => {
    assert.deepEqual(parseCertificate(body.replaceAll('\n', '\r\n') + '\r\n'), expected);
  });
  test('of several certificates the first is parsed', () => {
    assert.deepEqual(parseCertificate(`${first.certPem}${second.certPem}`), expected);
  });
  test('no final line break, one base64 line, spaces and tabs', () => {
    const base64 = Buffer.from(first.der).toString('base64');
    assert.deepEqual(parseCertificate(`-----BEGIN CERTIFICATE-----${base64}-----END CERTIFICATE-----`), expected);
    assert.deepEqual(parseCertificate(`-----BEGIN CERTIFICATE-----\n ${base64.slice(0, 10)}\t${base64.slice(10)}\n-----END CERTIFICATE-----`), expected);
  });
  test('a wrong label is an error', () => {
    assertRejected(body.replaceAll('CERTIFICATE', 'CERTIFICATE REQUEST'), 'PEM label is "CERTIFICATE REQUEST", expected "CERTIFICATE"');
    assertRejected('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'PEM label is "PRIVATE KEY", expected "CERTIFICATE"');
  });
  test('broken base64 is an error', () => {
    assertRejected(body.replace(/\n[A-Za-z]/, '\n*'), 'PEM body is not valid base64');
    assertRejected(body.replace(/\n[A-Za-z0-9]{3}/, '\n'), 'PEM body is not valid base64');
    // Non-zero padding bits: Buffer would decode it, canonical base64 does not allow it.
    assertRejected('-----BEGIN CERTIFICATE-----\nMB==\n-----END CERTIFICATE-----', 'PEM body is not valid base64');
    assertRejected('-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----', 'empty PEM body');
  });
  test('missing BEGIN or END line', () => {
    assertRejected('MIIB8jCCAZigAwIBAgIBADAKBggqhkjOPQQDAjA', 'no "-----BEGIN CERTIFICATE-----" line in the PEM input');
    assertRejected(body.slice(0, body.indexOf('-----END')), 'no "-----END CERTIFICATE-----" line after "-----BEGIN CERTIFICATE-----"');
  });
  test('a PEM body that is not a certificate', () => {
    const csr = `-----BEGIN CERTIFICATE-----\n${Buffer.from(certificationRequestDer()).toString('base64')}\n-----END CERTIFICATE-----\n`;
    assertRejected(csr, 'expected signature algorithm OBJECT IDENTIFIER (tag 0x06) at offset 10, found tag 0x31');
  });
});

describe('parseCertificate: malformed input', () => {
  const der = vectors[0]!.certificate.der; // 30 82 LL LL 30 82 ...
  const content = der.subarray(4);

  test('empty input', () => {
    assertRejected(new Uint8Array(0), 'empty input');
    assertRejected('', 'empty input');
  });
  test('not bytes or a string', () => {
    assertRejected(undefined, 'expected DER bytes (Uint8Array) or a PEM string, got undefined');
    assertRejected(null, 'expected DER bytes (Uint8Array) or a PEM string, got null');
    assertRejected([0x30, 0x00], 'expected DER bytes (Uint8Array) or a PEM string, got an array');
    assertRejected(new ArrayBuffer(4), 'expected DER bytes (Uint8Array) or a PEM string, got object');
  });
  test('an unexpected failure is wrapped with its cause', () => {
    const detached = new Uint8Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    assertRejected(detached, 'certificate could not be parsed: Cannot perform Construct on a detached ArrayBuffer');
    assert.throws(() => parseCertificate(detached), (error: Error) => error.cause instanceof TypeError);
  });
  test('truncated DER', () => {
    assertRejected(der.subarray(0, der.length - 10), 'DER length at offset 1 exceeds input');
    assertRejected(der.subarray(0, 1), 'DER length at offset 1 is missing');
    assertRejected(der.subarray(0, 3), 'DER length at offset 1 is truncated');
  });
  test('a length longer than its enclosing element', () => {
    assertRejected(tlv(0x30, tlv(0x30, [0x30, 0x05, 0x02, 0x01, 0x00]), [0x05, 0x00]), 'DER length at offset 5 exceeds the enclosing element');
  });
  test('non-minimal (over-long) length encodings', () => {
    assertRejected(concat([0x30, 0x83, 0x00], der.subarray(2)), 'DER length at offset 1 is not minimally encoded');
    assertRejected(concat([0x30, 0x81, 0x02, 0x30, 0x00]), 'DER length at offset 1 is not minimally encoded');
    // The TBSCertificate's length re-encoded with a leading zero octet.
    const tbsLength = (der[6]! << 8) | der[7]!;
    const inner = concat([0x30, 0x83, 0x00, tbsLength >> 8, tbsLength & 0xff], der.subarray(8));
    assertRejected(concat([0x30, 0x82, inner.length >> 8, inner.length & 0xff], inner), 'DER length at offset 5 is not minimally encoded');
    assertRejected(concat([0x30, 0x85, 0, 0, 0, 1, 0]), 'DER length at offset 1 uses 5 octets');
  });
  test('indefinite length', () => {
    assertRejected(concat([0x30, 0x80], content, [0x00, 0x00]), 'indefinite DER length at offset 1');
  });
  test('trailing bytes after the certificate', () => {
    assertRejected(concat(der, [0x00]), `1 trailing byte after the certificate at offset ${der.length}`);
    assertRejected(concat(der, der), `${der.length} trailing bytes after the certificate at offset ${der.length}`);
  });
  test('10,000-level nesting is rejected quickly, without a stack overflow', () => {
    const nested = nestedSequences(10_000);
    const started = process.cpuUsage();
    assertRejected(nested, 'DER nesting deeper than 32 levels at offset 128', HOSTILE_MAX_BYTES);
    assert.ok(cpuMilliseconds(started) < 50);
  });
  test('a CSR is not a certificate', () => {
    assertRejected(certificationRequestDer(), 'expected signature algorithm OBJECT IDENTIFIER (tag 0x06) at offset 10, found tag 0x31');
  });
  test('a non-minimal serial INTEGER', async () => {
    const { der: bad } = await createSelfSignedCertificate({ subject: 'x', serialNumber: Uint8Array.from([0x00, 0x01]) });
    assertRejected(bad, 'serialNumber INTEGER at offset 13 is not minimally encoded');
  });
  test('random bytes (seeded loop): only CertificateParseError', () => {
    let parsed = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const bytes = seededBytes(seed, seed % 600);
      // Every other input looks like a SEQUENCE of the right length, to get past the first check.
      if (seed % 2 === 0 && bytes.length > 4) bytes.set([0x30, 0x82, (bytes.length - 4) >> 8, (bytes.length - 4) & 0xff]);
      if (parsesOrRejects(bytes)) parsed++;
    }
    assert.equal(parsed, 0);
  });
  test('property: any bytes or mutated certificate give a result or a CertificateParseError', () => {
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(der.length))
      .map(([edits, cut]) => {
        const copy = Uint8Array.from(der);
        for (const [index, value] of edits) copy[index] = value;
        return copy.subarray(0, Math.max(cut, der.length - 8));
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 1024 }), mutated), (bytes) => {
        parsesOrRejects(bytes);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });
});

describe('parseCertificate: hostile input up to 64 KiB, let past the size limit', () => {
  for (const { name, input, outcome } of hostileInputs()) {
    test(`${name}: ${outcome}, in milliseconds`, () => {
      const times: number[] = [];
      for (let run = 0; run < 5; run++) {
        const started = process.cpuUsage();
        let result = 'parsed';
        try {
          parseCertificate(input, { maxBytes: HOSTILE_MAX_BYTES });
        } catch (error) {
          assert.ok(isMtlsError(error) && error.code === 'ERR_MTLS_CERT_PARSE');
          result = error.message;
        }
        times.push(cpuMilliseconds(started));
        assert.equal(result, outcome);
      }
      // Linear work is a few ms here (bench/parse.ts). CPU time, not wall time, so other processes
      // on a loaded machine do not count; the bound still leaves room for GC and a slow CI box.
      assert.ok(times.sort((a, b) => a - b)[2]! < 50, `median ${times[2]} ms`);
    });
  }
});

describe('parseCertificate: size limit', () => {
  /** The CertificateTooLargeError `input` is refused with. */
  function tooLarge(input: Uint8Array | string, options?: { maxBytes: number }): CertificateTooLargeError {
    try {
      parseCertificate(input, options);
    } catch (error) {
      assert.ok(error instanceof CertificateTooLargeError, String(error));
      return error;
    }
    assert.fail('parsed');
  }

  test('limits: 16 KiB certificates, 128 attributes per name, 1024 SAN entries', () => {
    assert.equal(DEFAULT_MAX_CERTIFICATE_BYTES, 16384);
    assert.equal(MAX_NAME_ATTRIBUTES, 128);
    assert.equal(MAX_SUBJECT_ALT_NAMES, 1024);
  });

  test('a generated certificate of 29,000 control characters is refused by size, DER and PEM', async () => {
    const huge = await createSelfSignedCertificate({ subject: '\x07'.repeat(29_000), keyPair: await generateDevKeyPair() });
    assert.ok(huge.der.length > 58_000 && huge.der.length < 59_000, String(huge.der.length));
    for (const input of [huge.der, huge.certPem]) {
      const error = tooLarge(input);
      assert.ok(error instanceof CertificateParseError);
      assert.ok(isMtlsError(error));
      assert.equal(error.code, 'ERR_MTLS_CERT_TOO_LARGE');
      assert.equal(error.name, 'CertificateTooLargeError');
      assert.equal(error.bytes, huge.der.length);
      assert.equal(error.maxBytes, 16384);
      assert.equal(error.message, `certificate of ${huge.der.length} bytes exceeds the limit of 16384 bytes; it was not parsed`);
    }
    // Let past the limit it parses: the size is the only reason it was refused.
    assert.equal(parseCertificate(huge.der, { maxBytes: 65536 }).subject, `CN=${'\\07'.repeat(29_000)}`);
  });

  test('the size is checked before anything is read: a malformed oversized input is too large, not malformed', () => {
    const garbage = new Uint8Array(16385);
    assert.equal(tooLarge(garbage).bytes, 16385);
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(garbage).toString('base64')}\n-----END CERTIFICATE-----\n`;
    assert.equal(tooLarge(pem).bytes, 16385);
    // 16384 bytes pass the size check and reach the DER reader.
    assertRejected(garbage.subarray(1), 'expected Certificate SEQUENCE (tag 0x30) at offset 0, found tag 0x00');
  });

  test('maxBytes: exactly the size parses, one byte less is refused; PEM counts its decoded bytes', () => {
    const { der, certPem } = vectors[0]!.certificate;
    assert.ok(certPem.length > der.length + 100);
    assert.deepEqual(parseCertificate(der, { maxBytes: der.length }), parseCertificate(der));
    assert.deepEqual(parseCertificate(certPem, { maxBytes: der.length }), parseCertificate(der));
    for (const input of [der, certPem]) {
      const error = tooLarge(input, { maxBytes: der.length - 1 });
      assert.equal(error.bytes, der.length);
      assert.equal(error.maxBytes, der.length - 1);
    }
    // Padding: a body of length 4n ending in "=" or "==" decodes to 3n - 1 or 3n - 2 bytes.
    for (const length of [der.length + 1, der.length + 2]) {
      const padded = `-----BEGIN CERTIFICATE-----\n${Buffer.alloc(length).toString('base64')}\n-----END CERTIFICATE-----`;
      assert.equal(tooLarge(padded, { maxBytes: length - 1 }).bytes, length);
    }
  });

  test('every hostile input over 16 KiB is refused by size at the default limit', () => {
    let refused = 0;
    for (const { name, input } of hostileInputs()) {
      const bytes = typeof input === 'string' ? Buffer.from(input.replace(/-----[^-]+-----|\s/g, ''), 'base64').length : input.length;
      if (bytes <= DEFAULT_MAX_CERTIFICATE_BYTES) continue;
      assert.equal(tooLarge(input).bytes, bytes, name);
      refused++;
    }
    assert.equal(refused, 16);
  });

  test('options are checked: a TypeError naming the option', () => {
    const { der } = vectors[0]!.certificate;
    assert.throws(() => parseCertificate(der, { maxBytes: 255 }), {
      name: 'TypeError',
      message: 'parseCertificate(): option "maxBytes" must be an integer from 256 to 1048576, got 255.',
    });
    assert.throws(() => parseCertificate(der, { maxBytes: 1_048_577 }), {
      name: 'TypeError',
      message: 'parseCertificate(): option "maxBytes" must be an integer from 256 to 1048576, got 1048577.',
    });
    assert.throws(() => parseCertificate(der, { maxSize: 1 } as never), {
      name: 'TypeError',
      message: 'parseCertificate(): unknown option "maxSize". Known options: maxBytes.',
    });
    assert.throws(() => parseCertificate(der, 4096 as never), {
      name: 'TypeError',
      message: 'parseCertificate(): options must be an object, got 4096.',
    });
  });

  test('a Name of more than 128 attributes and a SAN list of more than 1024 entries are parse errors', () => {
    const cn = (i: number): readonly [number[], Uint8Array] => [[0x55, 0x04, 0x03], tlv(0x0c, Buffer.from(`n${i}`))];
    const rdns = (count: number) => nameDer(Array.from({ length: count }, (_, i) => [cn(i)]));
    assert.equal(parseCertificate(handBuiltCertificate({ subject: rdns(128) })).subjectAttributes.length, 128);
    assertRejected(handBuiltCertificate({ subject: rdns(129) }), 'subject has more than 128 attributes (at offset 1906)');
    assertRejected(handBuiltCertificate({ issuer: rdns(129) }), 'issuer has more than 128 attributes (at offset 1844)');
    // Counted over the attributes of multi-valued RDNs too.
    const multi = nameDer([Array.from({ length: 100 }, (_, i) => cn(i)), Array.from({ length: 29 }, (_, i) => cn(i))]);
    assertRejected(handBuiltCertificate({ subject: multi }), 'subject has more than 128 attributes (at offset 1618)');
    const sans = (count: number) => subjectAltNameExtension(...Array.from({ length: count }, (_, i) => tlv(i % 2 ? 0x82 : 0x81, Buffer.from(`h${i}`))));
    const { san } = parseCertificate(handBuiltCertificate({ extensions: [sans(1024)] }));
    assert.deepEqual([san.dns.length, san.email.length, san.dns[511], san.email[511]], [512, 512, 'h1023', 'h1022']);
    assertRejected(handBuiltCertificate({ extensions: [sans(1025)] }), 'subjectAltName has more than 1024 entries (at offset 6287)');
  });
});

describe('parseCertificate: X.509 structure (hand-built)', () => {
  const times = (notBefore: string, notAfter: string) =>
    tlv(0x30, ...[notBefore, notAfter].map((time) => tlv(time.length === 13 ? 0x17 : 0x18, Buffer.from(time))));
  const extension = (oid: number[], value: Uint8Array, critical = false) =>
    tlv(0x30, tlv(0x06, oid), ...(critical ? [tlv(0x01, [0xff])] : []), tlv(0x04, value));
  const SAN = [0x55, 0x1d, 0x11];

  test('a critical SAN with an empty subject (RFC 5280 section 4.2.1.6)', () => {
    const parsed = parseCertificate(handBuiltCertificate({ subject: tlv(0x30), extensions: [extension(SAN, tlv(0x30, tlv(0x82, Buffer.from('a.example'))), true)] }));
    assert.equal(parsed.subject, '');
    assert.deepEqual(parsed.subjectAttributes, []);
    assert.deepEqual(parsed.san, { dns: ['a.example'], uri: [], email: [], ip: [] });
  });
  test('otherName, directoryName and registeredID SANs are skipped', () => {
    const parsed = parseCertificate(handBuiltCertificate({
      extensions: [subjectAltNameExtension(
        tlv(0xa0, tlv(0x06, [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03]), tlv(0xa0, tlv(0x0c, Buffer.from('upn')))),
        tlv(0xa4, nameDer([[[[0x55, 0x04, 0x03], tlv(0x0c, Buffer.from('dir'))]]])),
        tlv(0x88, [0x2a, 0x03]),
        tlv(0x82, Buffer.from('b.example')),
      )],
    }));
    assert.deepEqual(parsed.san, { dns: ['b.example'], uri: [], email: [], ip: [] });
  });
  test('a v1 certificate (no version field)', () => {
    const parsed = parseCertificate(handBuiltCertificate({ version: [] }));
    assert.equal(parsed.subject, 'CN=hand-built');
    assert.equal(parsed.issuer, 'CN=hand-built issuer');
  });
  test('leap day, and GeneralizedTime years 0001 and 9999', () => {
    const leap = parseCertificate(handBuiltCertificate({ validity: times('280229000000Z', '20500101000000Z') }));
    assert.equal(leap.notBefore.toISOString(), '2028-02-29T00:00:00.000Z');
    const wide = parseCertificate(handBuiltCertificate({ validity: times('00010101000000Z', '99991231235959Z') }));
    assert.equal(wide.notBefore.toISOString(), '0001-01-01T00:00:00.000Z');
    assert.equal(wide.notAfter.toISOString(), '9999-12-31T23:59:59.000Z');
  });

  const rejected: [string, Uint8Array, string][] = [
    ['duplicate extensions', handBuiltCertificate({ extensions: [subjectAltNameExtension(tlv(0x82, [0x61])), subjectAltNameExtension(tlv(0x82, [0x62]))] }), 'duplicate extension 2.5.29.17 at offset 220'],
    ['an iPAddress SAN of 5 octets', handBuiltCertificate({ extensions: [subjectAltNameExtension(tlv(0x87, [1, 2, 3, 4, 5]))] }), 'iPAddress subjectAltName at offset 217 has 5 octets, expected 4 or 16'],
    ['extensions in a v1 certificate', handBuiltCertificate({ version: [], extensions: [subjectAltNameExtension(tlv(0x82, [0x61]))] }), 'extensions at offset 197: not allowed in a version 1 certificate'],
    ['version 4', handBuiltCertificate({ version: [...tlv(0xa0, tlv(0x02, [0x03]))] }), 'unsupported certificate version at offset 8'],
    ['an unknown TBSCertificate field', handBuiltCertificate({ tbsTail: [tlv(0x05)] }), 'unexpected element (tag 0x05) in TBSCertificate at offset 202'],
    ['UTCTime without seconds', handBuiltCertificate({ validity: times('2601010000Z', '360101000000Z') }), 'notBefore at offset 58 is not in the RFC 5280 form YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ'],
    ['month 13', handBuiltCertificate({ validity: times('261301000000Z', '360101000000Z') }), 'notBefore at offset 58 is not a valid time'],
    ['February 30', handBuiltCertificate({ validity: times('260230000000Z', '360101000000Z') }), 'notBefore at offset 58 is not a valid time'],
    ['a letter in a time', handBuiltCertificate({ validity: times('26010100000AZ', '360101000000Z') }), 'notBefore at offset 58 is not a valid time'],
    ['fractional seconds', handBuiltCertificate({ validity: times('260101000000Z', '20500101000000.5Z') }), 'notAfter at offset 73 is not in the RFC 5280 form YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ'],
    ['a time without Z', handBuiltCertificate({ validity: tlv(0x30, tlv(0x17, Buffer.from('2601010000000')), tlv(0x17, Buffer.from('360101000000Z'))) }), 'notBefore at offset 58 is not in UTC (no trailing Z)'],
    ['a string where a time belongs', handBuiltCertificate({ validity: tlv(0x30, tlv(0x0c, [0x78]), tlv(0x17, Buffer.from('360101000000Z'))) }), 'expected UTCTime or GeneralizedTime (notBefore) at offset 58, found tag 0x0C'],
    ['three times in validity', handBuiltCertificate({ validity: tlv(0x30, tlv(0x17, Buffer.from('260101000000Z')), tlv(0x17, Buffer.from('360101000000Z')), tlv(0x05)) }), 'extra data in validity at offset 88'],
    ['an empty Extensions list', handBuiltCertificate({ extensions: [] }), 'empty Extensions SEQUENCE at offset 204'],
    ['an empty serial', handBuiltCertificate({ serial: [] }), 'empty serialNumber INTEGER at offset 11'],
    ['a padded negative serial', handBuiltCertificate({ serial: [0xff, 0x80] }), 'serialNumber INTEGER at offset 11 is not minimally encoded'],
    ['a two-octet critical BOOLEAN', handBuiltCertificate({ extensions: [tlv(0x30, tlv(0x06, SAN), tlv(0x01, [0xff, 0xff]), tlv(0x04, tlv(0x30)))] }), 'critical BOOLEAN at offset 213 is not one octet'],
    ['data after the GeneralNames', handBuiltCertificate({ extensions: [extension(SAN, Uint8Array.from([0x30, 0x00, 0x05, 0x00]))] }), 'extra data after subjectAltName at offset 217'],
    ['a SET instead of GeneralNames', handBuiltCertificate({ extensions: [extension(SAN, tlv(0x31))] }), 'expected subjectAltName GeneralNames SEQUENCE (tag 0x30) at offset 215, found tag 0x31'],
    ['an indefinite length inside the SAN', handBuiltCertificate({ extensions: [extension(SAN, Uint8Array.from([0x30, 0x80, 0x00, 0x00]))] }), 'indefinite DER length at offset 216'],
  ];
  for (const [name, der, message] of rejected) test(`rejects ${name}`, () => assertRejected(der, message));

  test('property: any UTF-8 value comes back unchanged in subjectAttributes and log-safe in subject', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { minLength: 1, maxLength: 4 }), (values) => {
        const subject = nameDer(values.map((value) => [[[0x55, 0x04, 0x03], tlv(0x0c, Buffer.from(value, 'utf8'))] as const]));
        const parsed = parseCertificate(handBuiltCertificate({ subject }));
        assert.deepEqual(parsed.subjectAttributes.map((rdn) => rdn[0]!.value), values);
        assert.ok(!hasLogUnsafe(parsed.subject), JSON.stringify(parsed.subject));
        // RFC 4514 grammar: a backslash escapes the next character, so count unescaped commas.
        let separators = 0;
        for (let i = 0; i < parsed.subject.length; i++) {
          if (parsed.subject[i] === '\\') i++;
          else if (parsed.subject[i] === ',') separators++;
        }
        assert.equal(separators, values.length - 1);
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
