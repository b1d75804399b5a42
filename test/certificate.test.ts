import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { parseCertificate } from '../lib/certificate.js';
import { isMtlsError, CertificateParseError } from '../lib/errors.js';
import { createSelfSignedCertificate } from '../lib/dev-certs.js';
import {
  VECTOR_ISSUER,
  buildCertificateVectors,
  certificationRequestDer,
  nestedSequences,
  seededBytes,
  hostileInputs,
  handBuiltVectors,
  tlv,
} from './helpers/certificate-vectors.js';

/** Asserts that `input` is rejected with ERR_MTLS_CERT_PARSE and exactly `message`. */
function assertRejected(input: unknown, message: string): void {
  let thrown: unknown;
  try {
    parseCertificate(input as Uint8Array);
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
    assertRejected(nested, 'DER nesting deeper than 32 levels at offset 128');
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

describe('parseCertificate: hostile input up to 64 KiB', () => {
  for (const { name, input, outcome } of hostileInputs()) {
    test(`${name}: ${outcome}, in milliseconds`, () => {
      const times: number[] = [];
      for (let run = 0; run < 5; run++) {
        const started = process.cpuUsage();
        let result = 'parsed';
        try {
          parseCertificate(input);
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
