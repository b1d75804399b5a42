import { test, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { CertificateParseError, CertificateTooLargeError } from '../../lib/errors.js';
import { CertificateCache, certificateCacheWeight, DEFAULT_CERTIFICATE_CACHE_BYTES, DEFAULT_CERTIFICATE_CACHE_SIZE, DEFAULT_UNVERIFIED_CACHE_BYTES, DEFAULT_UNVERIFIED_CACHE_SIZE } from '../../lib/certificate/cache.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import { createSelfSignedCertificate, generateDevKeyPair, type CryptoKeyPair, type DevCertificate, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer } from '../helpers/https.js';

let pki: DevCertificateSet;
let keyPair: CryptoKeyPair;
before(async () => {
  pki = await getTestPki();
  keyPair = await generateDevKeyPair();
});

/** The weight the cache counts for `der` (its parse, with the size limit out of the way). */
const weightOf = (der: Uint8Array): number => certificateCacheWeight(parseCertificate(der, { maxBytes: 1_048_576 }));

/** A self-signed certificate of about 58 KB: a CN of 29,000 control characters (also its issuer). */
function hugeCertificate(i: number): Promise<DevCertificate> {
  return createSelfSignedCertificate({ subject: String.fromCharCode(1 + (i % 31)).repeat(29_000), keyPair });
}

/**
 * A self-signed certificate just under 16 KiB built to weigh as much as possible once parsed: O
 * and CN of characters that escape to 9 (U+202E) and 12 (a tag character) bytes, 150 DNS SANs.
 */
function denseCertificate(i: number): Promise<DevCertificate> {
  const value = `${i}:` + '\u202e\u{e0041}'.repeat(470);
  return createSelfSignedCertificate({
    subject: [{ type: 'O', value }, { type: 'CN', value }],
    san: { dns: Array.from({ length: 150 }, (_, n) => `h${n}.${i}.example`) },
    keyPair,
  });
}

test('parses each distinct certificate once, whatever buffer holds the DER', () => {
  const cache = new CertificateCache();
  const alice = pki.clients.valid.der;
  const first = cache.get(alice, 'verified');
  assert.equal(cache.parseCount, 1);
  // A fresh copy, as a new connection's getPeerX509Certificate().raw would be.
  const second = cache.get(Buffer.from(alice), 'verified');
  assert.equal(cache.parseCount, 1);
  const expired = cache.get(pki.clients.expired.der, 'verified');
  assert.equal(second, first);
  assert.equal(first.subject, 'CN=alice,O=mtls-observability demo');
  assert.equal(expired.subject, 'CN=expired,O=mtls-observability demo');
  assert.equal(cache.parseCount, 2);
  assert.equal(cache.size, 2);
});

test('evicts the least recently used certificate when full', () => {
  const cache = new CertificateCache({ maxEntries: 2 });
  const { valid, expired, untrusted } = pki.clients;
  // Each step: the certificate presented and the parse count after it (a miss adds one).
  const steps: [string, DevCertificate, number][] = [
    ['valid', valid, 1],
    ['expired', expired, 2],
    ['valid', valid, 2], // valid is now the most recently used
    ['untrusted', untrusted, 3], // evicts expired
    ['valid', valid, 3],
    ['untrusted', untrusted, 3],
    ['expired', expired, 4], // parsed again, evicts valid
    ['valid', valid, 5], // parsed again, evicts untrusted
    ['expired', expired, 5],
  ];
  for (const [name, client, parses] of steps) {
    cache.get(client.der, 'verified');
    assert.deepEqual([name, cache.parseCount], [name, parses]);
  }
  assert.equal(cache.size, 2);
});

test('maxEntries 0 disables caching: every call parses', () => {
  const cache = new CertificateCache({ maxEntries: 0 });
  const a = cache.get(pki.clients.valid.der, 'verified');
  const b = cache.get(pki.clients.valid.der, 'verified');
  assert.notEqual(a, b);
  assert.deepEqual(a, b);
  assert.equal(cache.parseCount, 2);
  assert.equal(cache.size, 0);
});

test('a failure is cached and thrown again without re-parsing', () => {
  const cache = new CertificateCache();
  const garbage = new Uint8Array([0x30, 0x03, 0x02, 0x01]);
  const first = (() => {
    try {
      cache.get(garbage, 'verified');
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  assert.ok(first instanceof CertificateParseError);
  assert.equal((first).code, 'ERR_MTLS_CERT_PARSE');
  assert.throws(() => cache.get(Buffer.from(garbage), 'verified'), (error) => error === first);
  assert.equal(cache.parseCount, 1);
});

test('certificates that end in the same bytes never stand in for each other', () => {
  const cache = new CertificateCache();
  const original = Buffer.from(pki.clients.valid.der);
  // Same signature (the last bytes), another serial number: a crafted certificate's shape.
  const crafted = Buffer.from(original);
  const serial = parseCertificate(original).serialNumber;
  const at = crafted.indexOf(Buffer.from(serial, 'hex'));
  assert.ok(at > 0 && at < crafted.length - 100, String(at));
  crafted[at + 1] = crafted[at + 1]! ^ 0xff;
  assert.deepEqual(crafted.subarray(-32), original.subarray(-32));

  const first = cache.get(original, 'verified');
  const second = cache.get(crafted, 'verified');
  assert.equal(first.serialNumber, serial);
  assert.notEqual(second.serialNumber, serial);
  assert.equal(second.serialNumber, parseCertificate(crafted).serialNumber);
  assert.deepEqual(Buffer.from(second.der), crafted);
  // Each replaced the other's entry: presenting the original again parses it again.
  assert.equal(cache.get(original, 'verified').serialNumber, serial);
  assert.equal(cache.size, 1);
  assert.equal(cache.parseCount, 3);
  // A DER shorter than the key still works (failures are cached like certificates).
  const tiny = new Uint8Array([0x30, 0x00]);
  assert.throws(() => cache.get(tiny, 'verified'), { code: 'ERR_MTLS_CERT_PARSE' });
  assert.throws(() => cache.get(Buffer.from(tiny), 'verified'), { code: 'ERR_MTLS_CERT_PARSE' });
  assert.equal(cache.parseCount, 4);
});

test('returned certificates are frozen (they are shared between connections)', () => {
  const cache = new CertificateCache();
  const certificate = cache.get(pki.clients.valid.der, 'verified');
  assert.ok(Object.isFrozen(certificate));
  assert.ok(Object.isFrozen(certificate.san));
  assert.ok(Object.isFrozen(certificate.san.uri));
  assert.ok(Object.isFrozen(certificate.subjectAttributes));
  assert.ok(Object.isFrozen(certificate.subjectAttributes[0]));
  assert.ok(Object.isFrozen(certificate.subjectAttributes[0]![0]));
  assert.throws(() => {
    (certificate as { subject: string }).subject = 'CN=admin';
  }, TypeError);
  assert.deepEqual(certificate.san.uri, ['spiffe://example.org/ns/demo/sa/alice']);
});

test('defaults and clear()', () => {
  const cache = new CertificateCache();
  assert.equal(cache.maxEntries, DEFAULT_CERTIFICATE_CACHE_SIZE);
  assert.equal(DEFAULT_CERTIFICATE_CACHE_SIZE, 1000);
  assert.equal(cache.maxBytes, DEFAULT_CERTIFICATE_CACHE_BYTES);
  assert.equal(DEFAULT_CERTIFICATE_CACHE_BYTES, 8 * 1024 * 1024);
  assert.equal(cache.maxUnverifiedEntries, DEFAULT_UNVERIFIED_CACHE_SIZE);
  assert.equal(DEFAULT_UNVERIFIED_CACHE_SIZE, 100);
  assert.equal(cache.maxUnverifiedBytes, DEFAULT_UNVERIFIED_CACHE_BYTES);
  assert.equal(DEFAULT_UNVERIFIED_CACHE_BYTES, 1024 * 1024);
  assert.equal(cache.maxCertificateBytes, 16384);
  cache.get(pki.clients.valid.der, 'verified');
  cache.get(pki.clients.selfSigned.der, 'unverified');
  assert.equal(cache.size, 2);
  assert.equal(cache.unverifiedSize, 1);
  assert.equal(cache.bytes, weightOf(pki.clients.valid.der) + weightOf(pki.clients.selfSigned.der));
  assert.equal(cache.unverifiedBytes, weightOf(pki.clients.selfSigned.der));
  cache.clear();
  assert.deepEqual([cache.size, cache.bytes, cache.unverifiedSize, cache.unverifiedBytes], [0, 0, 0, 0]);
  cache.get(pki.clients.valid.der, 'verified');
  assert.equal(cache.parseCount, 3);
  // The unverified budget defaults to no more than the verified one.
  const small = new CertificateCache({ maxEntries: 10, maxBytes: 65536 });
  assert.deepEqual([small.maxUnverifiedEntries, small.maxUnverifiedBytes], [10, 65536]);
  const none = new CertificateCache({ maxEntries: 0 });
  assert.equal(none.maxUnverifiedEntries, 0);
  none.get(pki.clients.selfSigned.der, 'unverified');
  none.get(pki.clients.selfSigned.der, 'unverified');
  assert.deepEqual([none.parseCount, none.size], [2, 0]);
});

test('options are validated at construction', () => {
  assert.throws(() => new CertificateCache({ maxEntries: -1 }), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "maxEntries" must be an integer from 0 to 1000000, got -1.',
  });
  assert.throws(() => new CertificateCache({ maxEntries: 1.5 }), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "maxEntries" must be an integer from 0 to 1000000, got 1.5.',
  });
  assert.throws(() => new CertificateCache({ maxBytes: -1 }), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "maxBytes" must be an integer from 0 to 4294967296, got -1.',
  });
  assert.throws(() => new CertificateCache({ maxUnverifiedEntries: 2_000_000 }), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "maxUnverifiedEntries" must be an integer from 0 to 1000000, got 2000000.',
  });
  assert.throws(() => new CertificateCache({ maxUnverifiedBytes: '1MB' } as never), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "maxUnverifiedBytes" must be an integer from 0 to 4294967296, got "1MB".',
  });
  assert.throws(() => new CertificateCache({ maxCertificateBytes: 255 }), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "maxCertificateBytes" must be an integer from 256 to 1048576, got 255.',
  });
  // The parser is not an option: every cache parses with parseCertificate under its own limit.
  assert.throws(() => new CertificateCache({ parse: parseCertificate } as never), {
    name: 'TypeError',
    message:
      'new CertificateCache(): unknown option "parse". Known options: maxEntries, maxBytes, maxUnverifiedEntries, maxUnverifiedBytes, maxCertificateBytes.',
  });
  assert.throws(() => new CertificateCache({ size: 3 } as never), {
    name: 'TypeError',
    message:
      'new CertificateCache(): unknown option "size". Known options: maxEntries, maxBytes, maxUnverifiedEntries, maxUnverifiedBytes, maxCertificateBytes.',
  });
});

describe('CertificateCache: bounds against hostile certificates', () => {
  test('a certificate over maxCertificateBytes is refused before it is parsed, keyed or cached', async () => {
    const cache = new CertificateCache();
    const huge = await hugeCertificate(0);
    for (const trust of ['verified', 'unverified'] as const) {
      assert.throws(() => cache.get(huge.der, trust), (error: unknown) => {
        assert.ok(error instanceof CertificateTooLargeError);
        assert.equal(error.code, 'ERR_MTLS_CERT_TOO_LARGE');
        assert.equal(error.bytes, huge.der.length);
        assert.equal(error.maxBytes, 16384);
        return true;
      });
    }
    assert.deepEqual([cache.parseCount, cache.size, cache.bytes], [0, 0, 0]);
    // The default parser is given the cache's limit: raised, the certificate parses and is kept.
    const roomy = new CertificateCache({ maxCertificateBytes: 65536 });
    assert.equal(roomy.get(huge.der, 'unverified').subject, `CN=${'\\01'.repeat(29_000)}`);
    assert.deepEqual([roomy.parseCount, roomy.unverifiedSize, roomy.unverifiedBytes], [1, 1, weightOf(huge.der)]);
    // Exactly at the limit is accepted.
    const exact = new CertificateCache({ maxCertificateBytes: pki.clients.valid.der.length });
    assert.equal(exact.get(pki.clients.valid.der, 'verified').subject, 'CN=alice,O=mtls-observability demo');
  });

  test('entries are weighed, and the least recently used are evicted until under maxBytes', () => {
    const { valid, expired, untrusted, wrongEku } = pki.clients;
    const [a, b, c] = [valid.der, expired.der, untrusted.der].map(weightOf) as [number, number, number];
    // Room for two of the three; the entry bound is far away.
    const cache = new CertificateCache({ maxBytes: Math.max(a + b, b + c, a + c) });
    cache.get(valid.der, 'verified');
    cache.get(expired.der, 'verified');
    assert.equal(cache.bytes, a + b);
    cache.get(valid.der, 'verified'); // valid is now the most recently used
    cache.get(untrusted.der, 'verified'); // evicts expired
    assert.deepEqual([cache.size, cache.bytes, cache.parseCount], [2, a + c, 3]);
    cache.get(valid.der, 'verified');
    assert.equal(cache.parseCount, 3);
    cache.get(expired.der, 'verified');
    assert.equal(cache.parseCount, 4);
    // An entry heavier than the whole budget is parsed and returned, but not kept.
    const tiny = new CertificateCache({ maxBytes: weightOf(wrongEku.der) - 1 });
    assert.equal(tiny.get(wrongEku.der, 'verified').subject, 'CN=wrong-eku,O=mtls-observability demo');
    tiny.get(wrongEku.der, 'verified');
    assert.deepEqual([tiny.parseCount, tiny.size, tiny.bytes], [2, 0, 0]);
  });

  test('the weight counts the DER, every string and the arrays', async () => {
    const dense = await denseCertificate(7);
    const certificate = parseCertificate(dense.der);
    const weight = certificateCacheWeight(certificate);
    assert.ok(dense.der.length > 15_000 && dense.der.length < 16_384, String(dense.der.length));
    // At least: the DER, subject and issuer (two bytes per character, see certificateCacheWeight),
    // the attribute values (UTF-16), the SAN strings and a slot per array element.
    let floor = dense.der.length + 2 * (certificate.subject.length + certificate.issuer.length);
    for (const rdn of certificate.subjectAttributes) for (const attribute of rdn) floor += 2 * attribute.value.length + 8;
    for (const name of certificate.san.dns) floor += name.length + 8;
    assert.ok(weight > floor, `${weight} <= ${floor}`);
    assert.ok(weight < floor * 1.2, `${weight} >= 1.2 * ${floor}`);
    assert.equal(certificate.subject.length, 2 * (2 + 470 * 21) + 'CN=,O='.length);
  });

  test('verified and unverified live in separate LRUs: unverified certificates never evict verified ones', async () => {
    const cache = new CertificateCache({ maxEntries: 2, maxUnverifiedEntries: 2 });
    cache.get(pki.clients.valid.der, 'verified');
    cache.get(pki.clients.expired.der, 'verified');
    const flood = await Promise.all(Array.from({ length: 5 }, (_, i) => createSelfSignedCertificate({ subject: `flood-${i}`, keyPair })));
    for (const { der } of flood) cache.get(der, 'unverified');
    assert.deepEqual([cache.size, cache.unverifiedSize, cache.parseCount], [4, 2, 7]);
    assert.equal(cache.unverifiedBytes, weightOf(flood[3]!.der) + weightOf(flood[4]!.der));
    cache.get(pki.clients.valid.der, 'verified');
    cache.get(pki.clients.expired.der, 'verified');
    assert.equal(cache.parseCount, 7);
  });

  test('an unverified lookup may return a verified entry but does not keep it alive', () => {
    const cache = new CertificateCache({ maxEntries: 2 });
    const { valid, expired, untrusted } = pki.clients;
    cache.get(valid.der, 'verified');
    cache.get(expired.der, 'verified');
    const viaUnverified = cache.get(valid.der, 'unverified');
    assert.equal(viaUnverified, cache.get(valid.der, 'unverified'));
    assert.deepEqual([cache.parseCount, cache.unverifiedSize], [2, 0]);
    // valid was last *verified* before expired, so it is the least recently used and goes first.
    cache.get(untrusted.der, 'verified');
    cache.get(expired.der, 'verified');
    assert.equal(cache.parseCount, 3);
    cache.get(valid.der, 'verified');
    assert.equal(cache.parseCount, 4);
  });

  test('an unverified entry presented later as verified moves to the verified LRU without a new parse', () => {
    const cache = new CertificateCache();
    const first = cache.get(pki.clients.valid.der, 'unverified');
    assert.deepEqual([cache.unverifiedSize, cache.unverifiedBytes], [1, weightOf(pki.clients.valid.der)]);
    assert.equal(cache.get(Buffer.from(pki.clients.valid.der), 'verified'), first);
    assert.deepEqual([cache.parseCount, cache.size, cache.unverifiedSize, cache.unverifiedBytes, cache.bytes], [1, 1, 0, 0, weightOf(pki.clients.valid.der)]);
  });

  test('a crafted unverified certificate ending in a verified client\'s bytes does not replace its entry', () => {
    const cache = new CertificateCache();
    const original = Buffer.from(pki.clients.valid.der);
    const crafted = Buffer.from(original);
    const serial = parseCertificate(original).serialNumber;
    const at = crafted.indexOf(Buffer.from(serial, 'hex'));
    crafted[at + 1] = crafted[at + 1]! ^ 0xff;
    assert.deepEqual(crafted.subarray(-32), original.subarray(-32));
    cache.get(original, 'verified');
    assert.notEqual(cache.get(crafted, 'unverified').serialNumber, serial);
    assert.notEqual(cache.get(crafted, 'unverified').serialNumber, serial);
    assert.equal(cache.get(original, 'verified').serialNumber, serial);
    assert.deepEqual([cache.parseCount, cache.size, cache.unverifiedSize], [2, 2, 1]);
  });

  test('failures are cached in the LRU of their trust, and weighed', () => {
    const cache = new CertificateCache();
    const garbage = new Uint8Array(3000);
    garbage[0] = 0x30;
    assert.throws(() => cache.get(garbage, 'unverified'), { code: 'ERR_MTLS_CERT_PARSE' });
    assert.throws(() => cache.get(garbage, 'unverified'), { code: 'ERR_MTLS_CERT_PARSE' });
    assert.deepEqual([cache.parseCount, cache.unverifiedSize], [1, 1]);
    assert.ok(cache.unverifiedBytes > 3000 + 2048, String(cache.unverifiedBytes));
  });
});

describe('attack over real TLS: an unauthenticated client presents a new hostile certificate per connection', () => {
  /** A real HTTPS server (`rejectUnauthorized: false`) with `mtlsIdentity({ require: true })`. */
  async function server(options: Parameters<typeof mtlsIdentity>[0]) {
    const middleware = mtlsIdentity({ require: true, tracing: false, metrics: false, ...options });
    return startHttpsServer((req, res) => middleware(req, res, () => res.end('ok')));
  }
  const verifyOf = (body: string): string | undefined => (JSON.parse(body) as { verify?: string }).verify;

  test('58 KB certificates of 29,000 control characters: FAILED:ERR_MTLS_CERT_TOO_LARGE, nothing cached', async () => {
    const cache = new CertificateCache();
    const started = await server({ certificates: { cache } });
    try {
      for (let i = 0; i < 12; i++) {
        const client = await hugeCertificate(i);
        assert.ok(client.der.length > 58_000, String(client.der.length));
        const response = await httpsRequest({ port: started.port, client });
        assert.equal(response.status, 403);
        assert.deepEqual(JSON.parse(response.body), {
          code: 'ERR_MTLS_CLIENT_CERT_INVALID',
          message: 'The client certificate was not accepted (ERR_MTLS_CERT_TOO_LARGE).',
          verify: 'FAILED:ERR_MTLS_CERT_TOO_LARGE',
        });
      }
      assert.deepEqual([cache.parseCount, cache.size, cache.bytes], [0, 0, 0]);
      const valid = await httpsRequest({ port: started.port, client: pki.clients.valid });
      assert.deepEqual([valid.status, valid.body], [200, 'ok']);
    } finally {
      await started.close();
    }
    // mtlsIdentity({ certificates: { maxBytes } }) hands the limit to the cache it builds.
    const roomy = await server({ certificates: { maxBytes: 65536 } });
    try {
      const response = await httpsRequest({ port: roomy.port, client: await hugeCertificate(99) });
      assert.deepEqual([response.status, verifyOf(response.body)], [403, 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT']);
    } finally {
      await roomy.close();
    }
  });

  test('certificates just under 16 KiB: the accounted bytes stay within the unverified budget and a verified client stays cached', async () => {
    const cache = new CertificateCache({ maxEntries: 50 });
    assert.deepEqual([cache.maxUnverifiedEntries, cache.maxUnverifiedBytes], [50, 1024 * 1024]);
    const started = await server({ certificates: { cache } });
    try {
      const first = await httpsRequest({ port: started.port, client: pki.clients.valid });
      assert.deepEqual([first.status, cache.parseCount, cache.size], [200, 1, 1]);
      const verifiedBytes = cache.bytes;
      assert.equal(verifiedBytes, weightOf(pki.clients.valid.der));

      // More distinct hostile certificates than the unverified LRU has entries.
      const weights: number[] = [];
      for (let i = 0; i < 60; i++) {
        const client = await denseCertificate(i);
        assert.ok(client.der.length < 16_384, String(client.der.length));
        weights.push(weightOf(client.der));
        const response = await httpsRequest({ port: started.port, client });
        assert.deepEqual([response.status, verifyOf(response.body)], [403, 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT']);
        assert.ok(cache.unverifiedBytes <= cache.maxUnverifiedBytes, `${cache.unverifiedBytes} after ${i + 1}`);
        assert.equal(cache.bytes, verifiedBytes + cache.unverifiedBytes);
      }
      assert.equal(cache.parseCount, 61);
      // The byte budget binds long before the entry bound: exactly the most recent entries that
      // fit, and one more would not.
      const kept = cache.unverifiedSize;
      const recent = weights.slice(-kept).reduce((sum, weight) => sum + weight, 0);
      assert.equal(cache.unverifiedBytes, recent);
      assert.ok(recent + weights[weights.length - kept - 1]! > cache.maxUnverifiedBytes);
      assert.ok(kept >= 8 && kept < 50, String(kept));
      assert.ok(weights.every((weight) => weight > 100_000), String(weights[0]));

      // The verified client reconnects: served from the cache, no parse.
      const again = await httpsRequest({ port: started.port, client: pki.clients.valid });
      assert.deepEqual([again.status, cache.parseCount], [200, 61]);
    } finally {
      await started.close();
    }
  });
});
