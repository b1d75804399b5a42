import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isMtlsError } from '../../../../lib/errors.js';
import { ProxyHeaderError, type EnvoyForwardClientCertDetails, type ForwardedCertificate } from '../../../../lib/sources/proxy/formats/format.js';
import { envoyXfccFormat, parseXfcc, serializeXfccElement, xfccValue, type XfccElement } from '../../../../lib/sources/proxy/formats/envoy-xfcc.js';
import { getTestPki } from '../../../helpers/pki.js';
import { startMiddlewareServer, type MiddlewareServer } from '../../../helpers/raw-http.js';
import { parseCertificate } from '../../../../lib/certificate/parse.js';
import { createSelfSignedCertificate, type DevCertificate } from '../../../../lib/dev-certs/index.js';
import { mtlsIdentity } from '../../../../lib/middleware.js';

function read(
  value: string | undefined,
  maxChainLength = 8,
  forwardClientCertDetails: EnvoyForwardClientCertDetails = 'SANITIZE_SET',
): ForwardedCertificate {
  return envoyXfccFormat.read((role) => (role === 'xfcc' ? value : undefined), { maxChainLength, forwardClientCertDetails });
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

test('parseXfcc: quoted ; , = and \\" in Subject stay inside the value; \\" is the only escape', () => {
  const [element] = parseXfcc('Hash=ab;Subject="CN=a\\,b;c=d,O=x \\"quoted\\" \\\\ end";URI=spiffe://x', 8);
  assert.deepEqual(element, [
    ['Hash', 'ab'],
    // RFC 2253's own escapes (\, and \\) reach the reader unchanged.
    ['Subject', 'CN=a\\,b;c=d,O=x "quoted" \\\\ end'],
    ['URI', 'spiffe://x'],
  ]);
  assert.deepEqual(parseXfcc('Subject="a\\\\\\"x";Hash=1', 8), [[['Subject', 'a\\\\"x'], ['Hash', '1']]]);
  assert.deepEqual(parseXfcc('Subject="";URI=', 8), [[['Subject', ''], ['URI', '']]]);
  assert.deepEqual(parseXfcc('Subject="say \\"hi\\""', 8), [[['Subject', 'say "hi"']]]);
});

test("parseXfcc: Envoy's own test strings", () => {
  // test/common/http/conn_manager_utility_test.cc (MtlsSanitizeSetClientCert and friends).
  assert.deepEqual(
    parseXfcc('By=test://foo.com/be;Hash=abcdefg;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=test.lyft.com";URI=test://foo.com/fe;Cert="abcde="', 8),
    [[
      ['By', 'test://foo.com/be'],
      ['Hash', 'abcdefg'],
      ['Subject', '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=test.lyft.com'],
      ['URI', 'test://foo.com/fe'],
      ['Cert', 'abcde='],
    ]],
  );
  // test/common/tls/utility_test.cc: the RFC 2253 subject Envoy writes.
  assert.deepEqual(
    parseXfcc('Hash=1;Subject="CN=Test Server,OU=Lyft Engineering,O=Lyft,L=San Francisco,ST=California,C=US"', 8)[0]![1],
    ['Subject', 'CN=Test Server,OU=Lyft Engineering,O=Lyft,L=San Francisco,ST=California,C=US'],
  );
});

test('parseXfcc: one CN whose value is x\\,O=admin stays one attribute (no \\\\ to \\ rewriting)', () => {
  // RFC 2253 writes the value `x\,O=admin` as `x\\\,O=admin`; Envoy quotes it as it is.
  const [element] = parseXfcc('Hash=1;Subject="CN=x\\\\\\,O=admin"', 8);
  assert.deepEqual(element![1], ['Subject', 'CN=x\\\\\\,O=admin']);
});

test('parseXfcc: grammar errors and ambiguous quoting are HEADER_INVALID, too many elements HEADER_CHAIN_TOO_LONG', () => {
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
    // A quoted value ending in a backslash run: the closing quote or an escaped one?
    'Subject="CN=ends\\\\"',
    'Subject="CN=ends\\\\";URI=x',
    'Subject="CN=ends\\\\",Hash=1',
    'Subject="CN=ends\\"',
  ]) {
    assertReason(() => parseXfcc(bad, 8), 'HEADER_INVALID');
  }
  assert.equal(parseXfcc('Hash=1,Hash=2,Hash=3', 3).length, 3);
  assertReason(() => parseXfcc('Hash=1,Hash=2,Hash=3,Hash=4', 3), 'HEADER_CHAIN_TOO_LONG');
  // Repeatable keys per Envoy: By, URI, DNS.
  assert.equal(parseXfcc('Hash=1;DNS=a;DNS=b;URI=x;URI=y', 8)[0]!.length, 5);
});

test('serializeXfccElement: refuses what the quoting rule cannot write', () => {
  assert.equal(serializeXfccElement([['Subject', 'CN=a\\,b'], ['URI', 'spiffe://x'], ['Cert', 'a=b']]), 'Subject="CN=a\\,b";URI=spiffe://x;Cert="a=b"');
  assert.equal(serializeXfccElement([['Subject', 'say "hi"']]), 'Subject="say \\"hi\\""');
  assert.equal(serializeXfccElement([['Subject', 'ends\\']]), 'Subject=ends\\');
  assert.equal(serializeXfccElement([['Subject', 'CN=ends\\\\,']]), 'Subject="CN=ends\\\\,"');
  for (const value of ['a,b\\', 'x",y', 'x";y']) {
    assertReason(() => serializeXfccElement([['Subject', value]]), 'HEADER_INVALID');
  }
  assertReason(() => serializeXfccElement([['Sub ject', 'x']]), 'HEADER_INVALID');
});

test('envoy-xfcc: the rightmost element is the nearest proxy\'s (APPEND_FORWARD)', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const outer = `Hash=${sha256(untrusted.der)};Cert="${envoyCert(untrusted.certPem)}"`;
  const nearest = `By=spiffe://example.org/ns/x/sa/gw;Hash=${sha256(valid.der)};Cert="${envoyCert(valid.certPem)}";Subject="CN=alice,O=mtls-observability demo";URI=spiffe://example.org/ns/demo/sa/alice;DNS=alice.example.org`;
  assert.deepEqual(read(`${outer},${nearest}`, 8, 'APPEND_FORWARD'), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(nearest), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(undefined), { kind: 'none' });
  // SANITIZE_SET (the default) writes one element: two are refused.
  assertReason(() => read(`${outer},${nearest}`), 'HEADER_INVALID');
});

test('envoy-xfcc: a Cert injected through an unquoted or quoted value cannot replace the real one', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const forged = envoyCert(untrusted.certPem);
  const realHash = sha256(valid.der);
  const realCert = `Cert="${envoyCert(valid.certPem)}"`;
  // The known bypass: a Subject carrying ";Cert=..." — quoted by Envoy, so it stays a Subject.
  assert.deepEqual(read(`Hash=${realHash};${realCert};Subject="CN=x;Cert=${forged}"`), { kind: 'verified', der: valid.der });
  // Envoy does not quote URI; a URI SAN with ";Cert=" gives a second Cert pair: refused.
  assertReason(() => read(`Hash=${realHash};${realCert};URI=spiffe://x;Cert=${forged}`), 'HEADER_INVALID');
  // Without the real Cert, an injected one is out of Envoy's key order (and unquoted).
  assertReason(() => read(`Hash=${realHash};URI=spiffe://x;Cert="${forged}"`), 'HEADER_INVALID');
  // An injected Hash after URI, too.
  assertReason(() => read(`Hash=${realHash};URI=spiffe://x;Hash=${sha256(untrusted.der)}`), 'HEADER_INVALID');
  // A client-supplied element before the proxy's is ignored under APPEND_FORWARD.
  const prefixed = `Hash=${sha256(untrusted.der)};Cert="${forged}",Hash=${realHash};${realCert}`;
  assert.deepEqual(read(prefixed, 8, 'APPEND_FORWARD'), { kind: 'verified', der: valid.der });
});

test('envoy-xfcc: every key is checked: Hash is 64 hex digits, keys in Envoy\'s order and quoting', async () => {
  const { valid } = (await getTestPki()).clients;
  const hash = sha256(valid.der);
  assert.deepEqual(read(`By=spiffe://a;Hash=${hash};Subject="";URI=spiffe://cluster.local/ns/a/sa/b`), { kind: 'verified' });
  for (const bad of [
    'By=spiffe://a;URI=spiffe://b',
    'Hash=abc;Subject=""',
    `Hash=${hash}0`,
    `Hash=${hash.slice(0, 63)}g`,
    `Hash="${hash}"`,
    `URI=spiffe://b;Hash=${hash}`,
    `Hash=${hash};Subject=CN=x`,
    `Hash=${hash};URI="spiffe://b"`,
    `Hash=${hash};Issuer="CN=ca"`,
    `Hash=${hash};DNS=a;URI=spiffe://b`,
  ]) {
    assertReason(() => read(bad), 'HEADER_INVALID');
  }
});

test('envoy-xfcc: Chain is checked like Cert and gives the leaf when Cert is absent', async () => {
  const pki = await getTestPki();
  const { valid, untrusted } = pki.clients;
  const hash = sha256(valid.der);
  const chain = `Chain="${envoyCert(valid.certPem + pki.ca.certPem)}"`;
  assert.deepEqual(read(`Hash=${hash};${chain}`), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(`Hash=${hash};Cert="${envoyCert(valid.certPem)}";${chain}`), { kind: 'verified', der: valid.der });
  assertReason(() => read(`Hash=${hash};Chain="%ZZ"`), 'HEADER_INVALID');
  assertReason(() => read(`Hash=${hash};Chain="not pem"`), 'HEADER_INVALID');
  assertReason(() => read(`Hash=${hash};Chain="${envoyCert(valid.certPem.repeat(3))}"`, 2), 'HEADER_CHAIN_TOO_LONG');
  assert.deepEqual(read(`Hash=${hash};Chain="${envoyCert(untrusted.certPem)}"`), { kind: 'failed', reason: 'CERT_HASH_MISMATCH' });
});

test('envoy-xfcc: URI and DNS must list the forwarded certificate\'s SANs', async () => {
  const { valid } = (await getTestPki()).clients;
  const head = `Hash=${sha256(valid.der)};Cert="${envoyCert(valid.certPem)}"`;
  assert.deepEqual(read(`${head};URI=spiffe://example.org/ns/demo/sa/alice;DNS=alice.example.org`), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(`${head};Subject="CN=alice,O=mtls-observability demo"`), { kind: 'verified', der: valid.der });
  assertReason(() => read(`${head};URI=spiffe://example.org/ns/demo/sa/admin`), 'HEADER_INVALID');
  assertReason(() => read(`${head};URI=spiffe://example.org/ns/demo/sa/alice;URI=spiffe://x`), 'HEADER_INVALID');
  assertReason(() => read(`${head};URI=`), 'HEADER_INVALID');
  assertReason(() => read(`${head};DNS=alice.example.org;DNS=admin.example.org`), 'HEADER_INVALID');
});

test('envoy-xfcc: Cert must be one well-formed certificate', async () => {
  const { valid, untrusted } = (await getTestPki()).clients;
  const hash = sha256(valid.der);
  assertReason(() => read(`Hash=${hash};Cert="${envoyCert(valid.certPem + untrusted.certPem)}"`), 'HEADER_CHAIN_TOO_LONG');
  assertReason(() => read(`Hash=${hash};Cert="%ZZ"`), 'HEADER_INVALID');
  assertReason(() => read(`Hash=${hash};Cert="not pem"`), 'HEADER_INVALID');
  // The older Envoy encoding (only \n, space, +, /, = escaped) decodes the same.
  const older = valid.certPem.replace(/[\n +/=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  assert.deepEqual(read(`Hash=${hash.toUpperCase()};Cert="${older}"`), { kind: 'verified', der: valid.der });
  assert.deepEqual(read(`Hash=${hash};Cert="${envoyCert(untrusted.certPem)}"`), { kind: 'failed', reason: 'CERT_HASH_MISMATCH' });
});

const xfccKey = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/).filter((k) => !['hash', 'cert', 'chain', 'subject'].includes(k.toLowerCase()));
const xfccElement: fc.Arbitrary<XfccElement> = fc.array(
  fc.tuple(xfccKey, fc.oneof(fc.string(), fc.string({ unit: fc.constantFrom('"', '\\', ',', ';', '=', ' ', 'a') }))),
  { minLength: 1, maxLength: 6 },
);

test('property: serialising then parsing an XFCC element is the identity, or serialising refuses', () => {
  // What the quoting rule cannot write: a quoted value ending in a backslash, or with " before , or ;.
  const unwritable = (element: XfccElement): boolean =>
    element.some(([, v]) => /[,;="]/.test(v) && (v.endsWith('\\') || /"[,;]/.test(v)));
  fc.assert(
    fc.property(xfccElement, (element) => {
      if (unwritable(element)) {
        assert.throws(() => serializeXfccElement(element), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID');
        return;
      }
      assert.deepEqual(parseXfcc(serializeXfccElement(element), 1), [element]);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.array(xfccElement.filter((e) => !unwritable(e)), { minLength: 1, maxLength: 4 }), (elements) => {
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

/**
 * The XFCC element Envoy writes for `client` with `forward_client_cert_details: SANITIZE_SET` (or
 * APPEND_FORWARD) and `set_current_client_cert_details { cert, subject, uri, dns }`: By (Envoy's
 * own URI SAN), Hash, Cert quoted, Subject as `"` + RFC 2253 DN + `"`, then every URI and DNS SAN
 * unquoted (`URI=` when there is none), as mutateXfccRequestHeader does.
 */
function envoyElementFor(client: DevCertificate): string {
  const certificate = parseCertificate(client.der);
  const uris = certificate.san.uri.length === 0 ? [''] : certificate.san.uri;
  return [
    'By=spiffe://example.org/ns/edge/sa/envoy',
    `Hash=${sha256(client.der)}`,
    `Cert="${envoyCert(client.certPem)}"`,
    `Subject="${certificate.subject}"`,
    ...uris.map((uri) => `URI=${uri}`),
    ...certificate.san.dns.map((dns) => `DNS=${dns}`),
  ].join(';');
}

async function withEnvoyApp(
  options: { readonly require?: boolean; readonly forwardClientCertDetails?: EnvoyForwardClientCertDetails },
  run: (server: MiddlewareServer) => Promise<void>,
): Promise<void> {
  const server = await startMiddlewareServer({
    proxy: {
      format: 'envoy-xfcc',
      trustedProxies: ['127.0.0.1'],
      ...(options.forwardClientCertDetails !== undefined ? { forwardClientCertDetails: options.forwardClientCertDetails } : {}),
    },
    metrics: false,
    tracing: false,
    ...(options.require !== undefined ? { require: options.require } : {}),
  });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

test('attack: a URI SAN with ",Cert=<admin certificate>" cannot forge an XFCC element (real server, trusted Envoy address)', async () => {
  const pki = await getTestPki();
  // The attacker holds a certificate the trusted CA issued, with a URI SAN carrying a comma and a
  // percent-encoded self-signed "admin" certificate; Envoy verifies it and writes URI unquoted.
  const admin = await createSelfSignedCertificate({ subject: [{ type: 'O', value: 'mtls-observability demo' }, { type: 'CN', value: 'admin' }] });
  const certVariant = await pki.ca.issue({
    subject: [{ type: 'O', value: 'mtls-observability demo' }, { type: 'CN', value: 'mallory' }],
    san: { uri: [`https://x.example/a,Cert=${envoyCert(admin.certPem)}`] },
  });
  const hashVariant = await pki.ca.issue({
    subject: [{ type: 'O', value: 'mtls-observability demo' }, { type: 'CN', value: 'mallory' }],
    san: { uri: [`https://x.example/a,Hash=${sha256(admin.der)}`] },
  });
  const refused = {
    status: 200,
    body: { verified: false, verify: 'FAILED:HEADER_INVALID', reason: 'HEADER_INVALID', source: 'envoy-xfcc' },
  };
  for (const mode of ['SANITIZE_SET', 'APPEND_FORWARD'] as const) {
    await withEnvoyApp({ forwardClientCertDetails: mode }, async (server) => {
      for (const attacker of [certVariant, hashVariant]) {
        const header = envoyElementFor(attacker);
        assert.ok(header.includes(',')); // the comma Envoy did not quote
        assert.deepEqual(await server.send([`X-Forwarded-Client-Cert: ${header}`]), refused, mode);
      }
      // An honest client through the same Envoy is read as before.
      const honest = await server.send([`X-Forwarded-Client-Cert: ${envoyElementFor(pki.clients.valid)}`]);
      assert.deepEqual(honest.body, {
        verified: true,
        verify: 'SUCCESS',
        source: 'envoy-xfcc',
        subject: 'CN=alice,O=mtls-observability demo',
        issuer: 'CN=mtls-observability development CA',
        fingerprint256: parseCertificate(pki.clients.valid.der).fingerprint256,
        uri: ['spiffe://example.org/ns/demo/sa/alice'],
      });
    });
  }
  await withEnvoyApp({ require: true }, async (server) => {
    assert.deepEqual(await server.send([`X-Forwarded-Client-Cert: ${envoyElementFor(certVariant)}`]), {
      status: 403,
      body: { code: 'ERR_MTLS_CLIENT_CERT_INVALID', message: 'The client certificate was not accepted (HEADER_INVALID).', verify: 'FAILED:HEADER_INVALID' },
    });
  });
});

test('attack: Envoy quoting: an RFC 2253 Subject reaches parseXfcc unchanged, an ambiguous one and a bad Chain are refused (real server)', async () => {
  const pki = await getTestPki();
  // One CN whose value is `x\,O=admin`: RFC 2253 writes it `CN=x\\\,O=admin`.
  const tricky = await pki.ca.issue({ subject: [{ type: 'CN', value: 'x\\,O=admin' }] });
  // A CN ending in a backslash: Envoy writes Subject="CN=ends\\", which has two readings.
  const endsInBackslash = await pki.ca.issue({ subject: [{ type: 'CN', value: 'ends\\' }] });
  let appRead: XfccElement | undefined;
  const server = await startMiddlewareServer({ proxy: { format: 'envoy-xfcc', trustedProxies: ['127.0.0.1'] }, metrics: false, tracing: false });
  try {
    const header = envoyElementFor(tricky);
    assert.ok(header.includes('Subject="CN=x\\\\\\,O=admin"'));
    const response = await server.send([`X-Forwarded-Client-Cert: ${header}`]);
    assert.equal(response.body.verify, 'SUCCESS');
    assert.equal(response.body.subject, 'CN=x\\\\\\,O=admin');
    // An app reading Subject itself with the exported parser gets the same RFC 4514 string.
    appRead = parseXfcc(header, 1)[0];
    assert.equal(xfccValue(appRead!, 'Subject'), response.body.subject);

    assert.deepEqual(await server.send([`X-Forwarded-Client-Cert: ${envoyElementFor(endsInBackslash)}`]), {
      status: 200,
      body: { verified: false, verify: 'FAILED:HEADER_INVALID', reason: 'HEADER_INVALID', source: 'envoy-xfcc' },
    });
    // Hash with a Chain that is not PEM, and with a Chain of another certificate: never verified.
    const hash = sha256(pki.clients.valid.der);
    assert.deepEqual((await server.send([`X-Forwarded-Client-Cert: Hash=${hash};Chain="not-a-chain"`])).body, {
      verified: false, verify: 'FAILED:HEADER_INVALID', reason: 'HEADER_INVALID', source: 'envoy-xfcc',
    });
    assert.deepEqual((await server.send([`X-Forwarded-Client-Cert: Hash=${hash};Chain="${envoyCert(pki.clients.untrusted.chainPem)}"`])).body, {
      verified: false, verify: 'FAILED:CERT_HASH_MISMATCH', reason: 'CERT_HASH_MISMATCH', source: 'envoy-xfcc',
    });
    // The real chain gives the leaf as the certificate.
    const chained = await server.send([`X-Forwarded-Client-Cert: Hash=${hash};Chain="${envoyCert(pki.clients.valid.chainPem + pki.ca.certPem)}"`]);
    assert.equal(chained.body.subject, 'CN=alice,O=mtls-observability demo');
    assert.equal(chained.body.verify, 'SUCCESS');
  } finally {
    await server.close();
  }
});

test('proxy.forwardClientCertDetails: Envoy modes that pass on a client\'s header are refused at factory time', () => {
  // Plain JavaScript callers: the types would refuse most of these.
  const make = (mode: string, format = 'envoy-xfcc'): unknown =>
    mtlsIdentity({ proxy: { format, trustedProxies: ['10.0.0.0/8'], forwardClientCertDetails: mode } } as never);
  assert.throws(() => make('FORWARD_ONLY'), {
    name: 'TypeError',
    message:
      'mtlsIdentity(): option "proxy.forwardClientCertDetails" is "FORWARD_ONLY": Envoy then passes on the x-forwarded-client-cert its client sent, so any client could choose its identity. Configure Envoy with SANITIZE_SET (or APPEND_FORWARD) and set this option to match.',
  });
  assert.throws(() => make('ALWAYS_FORWARD_ONLY'), { name: 'TypeError', message: /even without mutual TLS/ });
  assert.throws(() => make('SANITIZE'), { name: 'TypeError', message: /removes x-forwarded-client-cert, so there is nothing to read/ });
  assert.throws(() => make('append_forward'), { name: 'TypeError', message: /option "proxy.forwardClientCertDetails" must be one of "SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY", got "append_forward"/ });
  assert.throws(() => make('SANITIZE_SET', 'nginx'), { name: 'TypeError', message: 'mtlsIdentity(): option "proxy.forwardClientCertDetails" only applies when "proxy.format" is "envoy-xfcc", not "nginx"; remove it.' });
  assert.throws(() => mtlsIdentity({ proxy: { forwardClientCertDetails: 'SANITIZE_SET' } } as never), {
    name: 'TypeError',
    message: /^mtlsIdentity\(\): option "proxy.format" is required with "proxy": the proxy whose headers carry the client certificate, one of "envoy-xfcc", /,
  });
  assert.equal(typeof make('APPEND_FORWARD'), 'function');
});

test('envoy-xfcc: a Cert that matches Hash but is not a certificate is FAILED:ERR_MTLS_CERT_PARSE (real server)', async () => {
  const junk = new Uint8Array([1, 2, 3, 4]);
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(junk).toString('base64')}\n-----END CERTIFICATE-----\n`;
  await withEnvoyApp({}, async (server) => {
    assert.deepEqual(await server.send([`X-Forwarded-Client-Cert: Hash=${sha256(junk)};Cert="${envoyCert(pem)}";URI=`]), {
      status: 200,
      body: { verified: false, verify: 'FAILED:ERR_MTLS_CERT_PARSE', reason: 'ERR_MTLS_CERT_PARSE', source: 'envoy-xfcc' },
    });
  });
});
