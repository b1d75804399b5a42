import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isMtlsError } from '../lib/errors.js';
import { ProxyHeaderError, type ForwardedCertificate } from '../lib/proxy-formats/encoding.js';
import {
  envoyXfccFormat,
  parseXfcc,
  serializeXfccElement,
  xfccValue,
  type XfccElement,
} from '../lib/proxy-formats/envoy-xfcc.js';
import { getTestPki } from './helpers/pki.js';

function read(value: string | undefined, maxChainLength = 8): ForwardedCertificate {
  return envoyXfccFormat.read((role) => (role === 'xfcc' ? value : undefined), { maxChainLength });
}

function assertReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ProxyHeaderError && err.reason === reason);
}

const sha256 = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');
// Envoy's newer code: Envoy::Http::Utility::PercentEncoding::urlEncode.
const envoyCert = (pem: string): string => encodeURIComponent(pem);

test('parseXfcc: Envoy documentation examples', () => {
  const one = parseXfcc(
    'By=http://frontend.lyft.com;Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com',
    8,
  );
  assert.deepEqual(one, [
    [
      ['By', 'http://frontend.lyft.com'],
      ['Hash', '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688'],
      ['Subject', '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client'],
      ['URI', 'http://testclient.lyft.com'],
    ],
  ]);
  const two = parseXfcc(
    'By=http://frontend.lyft.com;Hash=468ed33b;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443;URI=http://frontend.lyft.com',
    8,
  );
  assert.equal(two.length, 2);
  assert.equal(xfccValue(two[1]!, 'by'), 'http://backend.lyft.com');
  assert.equal(xfccValue(two[1]!, 'HASH'), '9ba61d6425303443');
});

test('parseXfcc: quoted ; , = and \\" in Subject stay inside the value', () => {
  const [element] = parseXfcc('Hash=ab;Subject="CN=a\\,b;c=d,O=x \\"quoted\\" \\\\ end";URI=spiffe://x', 8);
  assert.deepEqual(element, [
    ['Hash', 'ab'],
    ['Subject', 'CN=a\\,b;c=d,O=x "quoted" \\ end'],
    ['URI', 'spiffe://x'],
  ]);
  // Even and odd backslash runs before a quote.
  assert.deepEqual(parseXfcc('Subject="a\\\\";Hash=1', 8), [[['Subject', 'a\\'], ['Hash', '1']]]);
  assert.deepEqual(parseXfcc('Subject="a\\\\\\";x";Hash=1', 8), [[['Subject', 'a\\";x'], ['Hash', '1']]]);
  assert.deepEqual(parseXfcc('Subject="";URI=', 8), [[['Subject', ''], ['URI', '']]]);
});

test('parseXfcc: grammar errors are HEADER_INVALID, too many elements HEADER_CHAIN_TOO_LONG', () => {
  for (const bad of [
    '',
    'Hash',
    'Hash=1;',
    'Hash=1,',
    ',Hash=1',
    '=1',
    'Ha sh=1',
    'Subject="unterminated',
    'Subject="a"b;Hash=1',
    'Subject=a"b',
    'Subject="a\\',
    'Hash=1;Hash=2',
    'Cert=a;cert=b',
  ]) {
    assertReason(() => parseXfcc(bad, 8), 'HEADER_INVALID');
  }
  assert.equal(parseXfcc('Hash=1,Hash=2,Hash=3', 3).length, 3);
  assertReason(() => parseXfcc('Hash=1,Hash=2,Hash=3,Hash=4', 3), 'HEADER_CHAIN_TOO_LONG');
  // Repeatable keys per Envoy: By, URI, DNS.
  assert.equal(parseXfcc('Hash=1;DNS=a;DNS=b;URI=x;URI=y', 8)[0]!.length, 5);
});

test('envoy-xfcc: the rightmost element is the nearest proxy\'s', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const outer = `Hash=${sha256(untrusted.der)};Cert="${envoyCert(untrusted.certPem)}"`;
  const nearest = `By=spiffe://example.org/ns/x/sa/gw;Hash=${sha256(valid.der)};Cert="${envoyCert(valid.certPem)}";Subject="CN=alice,O=mtls-observability demo";URI=spiffe://example.org/ns/demo/sa/alice;DNS=alice.example.org`;
  assert.deepEqual(read(`${outer},${nearest}`), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(nearest), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(undefined), { kind: 'none' });
});

test('envoy-xfcc: a Cert injected through an unquoted or quoted value cannot replace the real one', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const forged = envoyCert(untrusted.certPem);
  // The known bypass: a Subject carrying ";Cert=..." — quoted by Envoy, so it stays a Subject.
  const quoted = `Hash=${sha256(valid.der)};Subject="CN=x;Cert=${forged}";Cert="${envoyCert(valid.certPem)}"`;
  assert.deepEqual(read(quoted), { kind: 'verified', der: valid.der });
  // Envoy does not quote URI; a URI SAN with ";Cert=" gives a second Cert pair: refused.
  const unquoted = `Hash=${sha256(valid.der)};Cert="${envoyCert(valid.certPem)}";URI=spiffe://x;Cert=${forged}`;
  assertReason(() => read(unquoted), 'HEADER_INVALID');
  // Without the real Cert, an injected one still has to match Envoy's Hash.
  const hashOnly = `Hash=${sha256(valid.der)};URI=spiffe://x;Cert=${forged}`;
  assert.deepEqual(read(hashOnly), { kind: 'failed', reason: 'CERT_HASH_MISMATCH' });
  // A client-supplied element before the proxy's is ignored.
  const prefixed = `Cert="${forged}";Hash=${sha256(untrusted.der)},Hash=${sha256(valid.der)};Cert="${envoyCert(valid.certPem)}"`;
  assert.deepEqual(read(prefixed), { kind: 'verified', der: valid.der });
});

test('envoy-xfcc: Hash without Cert is a verified peer without certificate details', async () => {
  assert.deepEqual(read('By=spiffe://a;Hash=abc;Subject="";URI=spiffe://cluster.local/ns/a/sa/b'), { kind: 'verified' });
  assertReason(() => read('By=spiffe://a;URI=spiffe://b'), 'HEADER_INVALID');
});

test('envoy-xfcc: Cert must be one well-formed certificate', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  assertReason(() => read(`Cert="${envoyCert(valid.certPem + untrusted.certPem)}"`), 'HEADER_CHAIN_TOO_LONG');
  assertReason(() => read('Cert="%ZZ"'), 'HEADER_INVALID');
  assertReason(() => read('Cert="not pem"'), 'HEADER_INVALID');
  // The older Envoy encoding (only \n, space, +, /, = escaped) decodes the same.
  const older = valid.certPem.replace(/[\n +/=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  assert.deepEqual(read(`Hash=${sha256(valid.der).toUpperCase()};Cert="${older}"`), { kind: 'verified', der: valid.der });
});

const xfccKey = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/).filter((k) => !['hash', 'cert', 'chain', 'subject'].includes(k.toLowerCase()));
const xfccElement: fc.Arbitrary<XfccElement> = fc.array(
  fc.tuple(xfccKey, fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('"', '\\', ',', ';', '=', ' ', 'a') }))),
  { minLength: 1, maxLength: 6 },
);

test('property: serialising then parsing an XFCC element is the identity', () => {
  fc.assert(
    fc.property(xfccElement, (element) => {
      assert.deepEqual(parseXfcc(serializeXfccElement(element), 1), [element]);
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.array(xfccElement, { minLength: 1, maxLength: 4 }), (elements) => {
      assert.deepEqual(parseXfcc(elements.map(serializeXfccElement).join(','), 4), elements);
    }),
  );
});

test('property: parseXfcc and the format throw nothing but the library error', () => {
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: fc.constantFrom('"', '\\', ',', ';', '=', ' ', 'Cert', 'Hash', '%', 'a', '-----BEGIN CERTIFICATE-----') }),
  );
  fc.assert(
    fc.property(text, (value) => {
      for (const fn of [() => parseXfcc(value, 4), () => read(value, 4)]) {
        try {
          fn();
        } catch (err) {
          assert.ok(isMtlsError(err), String(err));
        }
      }
    }),
    { numRuns: 1000 },
  );
});
