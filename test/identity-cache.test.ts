import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate } from '../lib/certificate.js';
import { CertificateParseError } from '../lib/errors.js';
import {
  CertificateCache,
  ConnectionIdentityCache,
  DEFAULT_CERTIFICATE_CACHE_SIZE,
} from '../lib/identity-cache.js';
import type { PeerCertificate, PeerIdentity } from '../lib/types.js';
import type { DevCertificateSet } from '../lib/dev-certs.js';
import { getTestPki } from './helpers/pki.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

/** The real parser, counting the DERs it was given (by subject). */
function countingParser(): { parse: (der: Uint8Array) => PeerCertificate; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    parse(der) {
      const certificate = parseCertificate(der);
      calls.push(certificate.subject);
      return certificate;
    },
  };
}

test('parses each distinct certificate once, whatever buffer holds the DER', () => {
  const counter = countingParser();
  const cache = new CertificateCache({ parse: counter.parse });
  const alice = pki.clients.valid.der;
  const first = cache.get(alice, 'verified');
  // A fresh copy, as a new connection's getPeerX509Certificate().raw would be.
  const second = cache.get(Buffer.from(alice), 'verified');
  const expired = cache.get(pki.clients.expired.der, 'verified');
  assert.equal(second, first);
  assert.equal(first.subject, 'CN=alice,O=mtls-observability demo');
  assert.equal(expired.subject, 'CN=expired,O=mtls-observability demo');
  assert.deepEqual(counter.calls, ['CN=alice,O=mtls-observability demo', 'CN=expired,O=mtls-observability demo']);
  assert.equal(cache.parseCount, 2);
  assert.equal(cache.size, 2);
});

test('evicts the least recently used certificate when full', () => {
  const counter = countingParser();
  const cache = new CertificateCache({ maxEntries: 2, parse: counter.parse });
  const { valid, expired, untrusted } = pki.clients;
  cache.get(valid.der, 'verified');
  cache.get(expired.der, 'verified');
  cache.get(valid.der, 'verified'); // valid is now the most recently used
  cache.get(untrusted.der, 'verified'); // evicts expired
  assert.equal(cache.size, 2);
  cache.get(valid.der, 'verified');
  cache.get(untrusted.der, 'verified');
  assert.equal(cache.parseCount, 3);
  cache.get(expired.der, 'verified'); // parsed again, evicts valid
  assert.equal(cache.parseCount, 4);
  cache.get(valid.der, 'verified');
  assert.equal(cache.parseCount, 5);
  assert.deepEqual(counter.calls, [
    'CN=alice,O=mtls-observability demo',
    'CN=expired,O=mtls-observability demo',
    'CN=untrusted,O=mtls-observability demo',
    'CN=expired,O=mtls-observability demo',
    'CN=alice,O=mtls-observability demo',
  ]);
});

test('maxEntries 0 disables caching: every call parses', () => {
  const counter = countingParser();
  const cache = new CertificateCache({ maxEntries: 0, parse: counter.parse });
  const a = cache.get(pki.clients.valid.der, 'verified');
  const b = cache.get(pki.clients.valid.der, 'verified');
  assert.notEqual(a, b);
  assert.deepEqual(a, b);
  assert.equal(cache.parseCount, 2);
  assert.equal(cache.size, 0);
});

test('a failure is cached and thrown again without re-parsing', () => {
  let calls = 0;
  const cache = new CertificateCache({
    parse: (der) => {
      calls++;
      return parseCertificate(der);
    },
  });
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
  assert.equal((first as CertificateParseError).code, 'ERR_MTLS_CERT_PARSE');
  assert.throws(() => cache.get(Buffer.from(garbage), 'verified'), (error) => error === first);
  assert.equal(calls, 1);
});

test('certificates that end in the same bytes never stand in for each other', () => {
  const { parse, calls } = countingParser();
  const cache = new CertificateCache({ parse });
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
  assert.equal(calls.length, 3);
  // A DER shorter than the key still works (failures are cached like certificates).
  const tiny = new Uint8Array([0x30, 0x00]);
  assert.throws(() => cache.get(tiny, 'verified'), { code: 'ERR_MTLS_CERT_PARSE' });
  assert.throws(() => cache.get(Buffer.from(tiny), 'verified'), { code: 'ERR_MTLS_CERT_PARSE' });
  assert.equal(cache.parseCount, 4);
});

test('a parser whose certificates carry no DER still gets exact lookups', () => {
  let calls = 0;
  const stub = { serialNumber: 'AB' } as unknown as PeerCertificate;
  const cache = new CertificateCache({
    parse: () => {
      calls++;
      return { ...stub, subjectAttributes: [], san: {} } as unknown as PeerCertificate;
    },
  });
  const der = Buffer.from(pki.clients.valid.der);
  assert.equal(cache.get(der, 'verified'), cache.get(Buffer.from(der), 'verified'));
  assert.equal(calls, 1);
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
  cache.get(pki.clients.valid.der, 'verified');
  assert.equal(cache.size, 1);
  cache.clear();
  assert.equal(cache.size, 0);
  cache.get(pki.clients.valid.der, 'verified');
  assert.equal(cache.parseCount, 2);
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
  assert.throws(() => new CertificateCache({ parse: 'x' } as never), {
    name: 'TypeError',
    message: 'new CertificateCache(): option "parse" must be a function, got "x".',
  });
  assert.throws(() => new CertificateCache({ size: 3 } as never), {
    name: 'TypeError',
    message: 'new CertificateCache(): unknown option "size". Known options: maxEntries, parse.',
  });
});

test('ConnectionIdentityCache keys by object identity', () => {
  const cache = new ConnectionIdentityCache();
  const socketA = {};
  const socketB = {};
  const identity: PeerIdentity = { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' };
  cache.set(socketA, identity, true);
  assert.equal(cache.get(socketA), identity);
  assert.deepEqual(cache.entry(socketA), { identity, renegotiable: true });
  assert.equal(cache.get(socketB), undefined);
  cache.delete(socketA);
  assert.equal(cache.get(socketA), undefined);
});
