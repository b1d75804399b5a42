import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseCertificate } from '../../../lib/certificate/parse.js';
import { mtlsIdentity } from '../../../lib/middleware.js';
import { ProxyHeaderError } from '../../../lib/sources/proxy/formats/format.js';
import { CertificateCache } from '../../../lib/certificate/cache.js';
import { createProxySource } from '../../../lib/sources/proxy/source.js';
import { resolveProxyOptions, type ProxyOptions } from '../../../lib/sources/proxy/options.js';
import { PROXY_FORMATS } from '../../../lib/sources/proxy/formats/index.js';
import type { UntrustedProxyHeadersEvent } from '../../../lib/identity/untrusted-proxy-headers.js';
import type { DevCertificateSet } from '../../../lib/dev-certs/index.js';
import { getTestPki } from '../../helpers/pki.js';
import { startMiddlewareServer } from '../../helpers/raw-http.js';
import { captureWarnings } from '../../helpers/warnings.js';
import { getPeerIdentity } from '../../../lib/get-peer-identity.js';
import { PROXY_FORMAT_NAMES, type PeerIdentity } from '../../../lib/identity/peer-identity.js';
import type { IdentitySource } from '../../../lib/sources/source.js';

const FACTORY = 'mtlsIdentity()';
/** Stands in for the TLS-socket source: these servers are plain HTTP, so no certificate. */
const plainHttpFallback: IdentitySource = {
  resolve: () => ({ verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' }),
};

interface Seen {
  identity: PeerIdentity;
  headers: Record<string, unknown>;
  rawHeaders: string[];
  headersDistinct: Record<string, unknown>;
}

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

/**
 * A real HTTP server on 127.0.0.1 resolving each request through a proxy source built from a
 * `proxy` option; its `onUntrustedHeaders` function receives the source's events directly.
 */
async function withServer(
  options: ProxyOptions,
  run: (send: (headerLines: string[], localAddress?: string) => Promise<Seen>) => Promise<void>,
  certificates?: CertificateCache,
  listenHost = '127.0.0.1',
): Promise<void> {
  const source = createProxySource(resolveProxyOptions(FACTORY, options), {
    fallback: plainHttpFallback,
    certificates: certificates ?? new CertificateCache(),
    ...(options.onUntrustedHeaders ? { onUntrustedHeaders: options.onUntrustedHeaders } : {}),
  });
  let last: Seen | undefined;
  const server = http.createServer((req, res) => {
    const identity = source.resolve(req);
    last = {
      identity,
      headers: { ...req.headers },
      rawHeaders: [...req.rawHeaders],
      headersDistinct: { ...req.headersDistinct },
    };
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const { port } = server.address() as net.AddressInfo;
  // Raw bytes on a TCP socket: repeated header lines and exact names reach the server as sent.
  const send = (headerLines: string[], localAddress = '127.0.0.1'): Promise<Seen> =>
    new Promise((resolve, reject) => {
      last = undefined;
      const host = localAddress.includes(':') ? '::1' : '127.0.0.1';
      const socket = net.connect({ host, port, localAddress }, () => {
        socket.end(['GET / HTTP/1.1', 'Host: app', 'Connection: close', ...headerLines, '', ''].join('\r\n'));
      });
      let response = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (response += chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        if (last === undefined) reject(new Error(`no request reached the app: ${response.slice(0, 80)}`));
        else resolve(last);
      });
    });
  try {
    await run(send);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const nginxHeaders = (pem: string, verify = 'SUCCESS'): string[] => [
  `X-SSL-Client-Cert: ${encodeURIComponent(pem)}`,
  `X-SSL-Client-Verify: ${verify}`,
];

test('trusted peer: nginx headers give the same identity as the certificate itself', async () => {
  await withServer({ format: 'nginx', trustedProxies: ['127.0.0.1/32'] }, async (send) => {
    const { identity } = await send(nginxHeaders(pki.clients.valid.certPem));
    assert.equal(identity.verified, true);
    assert.equal(identity.verify, 'SUCCESS');
    assert.equal(identity.reason, undefined);
    assert.equal(identity.source, 'nginx');
    assert.deepEqual(identity.certificate, parseCertificate(pki.clients.valid.der));
    assert.equal(identity.certificate?.subject, 'CN=alice,O=mtls-observability demo');

    const failed = await send(nginxHeaders(pki.clients.untrusted.certPem, 'FAILED:unable to verify the first certificate'));
    assert.deepEqual(
      { ...failed.identity, certificate: failed.identity.certificate?.serialNumber },
      {
        verified: false,
        verify: 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        source: 'nginx',
        certificate: parseCertificate(pki.clients.untrusted.der).serialNumber,
      },
    );
    assert.deepEqual((await send(['X-SSL-Client-Verify: NONE'])).identity, {
      verified: false,
      verify: 'NONE',
      reason: 'CERT_MISSING',
      source: 'nginx',
    });
    // A trusted proxy that sent nothing at all: no certificate.
    assert.deepEqual((await send([])).identity.verify, 'NONE');
  });
});

test('trusted peer: a forwarded certificate over maxCertificateBytes is FAILED:ERR_MTLS_CERT_TOO_LARGE, not parsed', async () => {
  const certificates = new CertificateCache({ maxCertificateBytes: 256 });
  await withServer(
    { format: 'nginx', trustedProxies: ['127.0.0.1/32'] },
    async (send) => {
      const { identity } = await send(nginxHeaders(pki.clients.valid.certPem));
      assert.deepEqual(identity, {
        verified: false,
        verify: 'FAILED:ERR_MTLS_CERT_TOO_LARGE',
        reason: 'ERR_MTLS_CERT_TOO_LARGE',
        source: 'nginx',
      });
      assert.equal(certificates.parseCount, 0);
    },
    certificates,
  );
});

test('untrusted peer: headers ignored, removed from every view, reported; fallback decides', async () => {
  const events: UntrustedProxyHeadersEvent[] = [];
  await withServer(
    { format: 'nginx', trustedProxies: ['127.0.0.1/32'], onUntrustedHeaders: (e) => events.push(e) },
    async (send) => {
      const seen = await send([...nginxHeaders(pki.clients.valid.certPem), 'X-Other: kept', 'x-ssl-client-cert: again'], '127.0.0.2');
      assert.deepEqual(seen.identity, { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' });
      assert.equal(seen.headers['x-ssl-client-cert'], undefined);
      assert.equal(seen.headers['x-ssl-client-verify'], undefined);
      assert.equal(seen.headersDistinct['x-ssl-client-cert'], undefined);
      assert.deepEqual(seen.rawHeaders, ['Host', 'app', 'Connection', 'close', 'X-Other', 'kept']);
      assert.equal(seen.headers['x-other'], 'kept');
      assert.deepEqual(events, [
        { remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'] },
      ]);
      // No headers from the untrusted peer: nothing to report.
      await send(['X-Other: 1'], '127.0.0.2');
      assert.equal(events.length, 1);
    },
  );
});

test('untrusted peer: a throwing report callback does not change the identity', async () => {
  await withServer(
    {
      format: 'envoy-xfcc',
      trustedProxies: ['10.0.0.0/8'],
      onUntrustedHeaders: () => {
        throw new Error('hook failure');
      },
    },
    async (send) => {
      const seen = await send(['X-Forwarded-Client-Cert: Hash=abc']);
      assert.equal(seen.identity.source, 'tls');
      assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
    },
  );
});

test('mtlsIdentity(): a throwing onUntrustedHeaders is warned about once, and the metric still counts', async () => {
  const warnings = await captureWarnings(async () => {
    const server = await startMiddlewareServer({
      proxy: {
        format: 'nginx',
        trustedProxies: ['10.0.0.0/8'],
        onUntrustedHeaders: () => {
          throw new Error('hook failure');
        },
      },
      tracing: false,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const response = await server.send(nginxHeaders(pki.clients.valid.certPem));
        assert.deepEqual(response.body, { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' });
      }
    } finally {
      await server.close();
    }
  });
  assert.deepEqual(
    warnings.map((w) => [w.code, w.message]),
    [['MTLS_OBSERVER_ERROR', 'mtlsIdentity(): option "proxy.onUntrustedHeaders" threw and was skipped: hook failure']],
  );
});

test('repeated header lines, oversized and undecodable values are recorded failures', async () => {
  await withServer(
    { format: 'nginx', trustedProxies: ['127.0.0.0/8'], maxHeaderBytes: 4096 },
    async (send) => {
      const cert = encodeURIComponent(pki.clients.valid.certPem);
      const failure = async (lines: string[]): Promise<string | undefined> => (await send(lines)).identity.verify;
      // Smuggling: an appending proxy adds its line after the client's; Node would join them with ", ".
      assert.equal(
        await failure([`X-SSL-Client-Cert: ${cert}`, `x-ssl-client-cert: ${cert}`, 'X-SSL-Client-Verify: SUCCESS']),
        'FAILED:HEADER_REPEATED',
      );
      assert.equal(await failure([`X-SSL-Client-Cert: ${cert}`, 'X-SSL-Client-Verify: SUCCESS', 'X-SSL-Client-Verify: SUCCESS']), 'FAILED:HEADER_REPEATED');
      assert.equal(await failure([`X-SSL-Client-Cert: ${'A'.repeat(4097)}`, 'X-SSL-Client-Verify: SUCCESS']), 'FAILED:HEADER_TOO_LARGE');
      assert.equal(await failure(['X-SSL-Client-Cert: %ZZ', 'X-SSL-Client-Verify: SUCCESS']), 'FAILED:HEADER_INVALID');
      assert.equal(await failure([`X-SSL-Client-Cert: ${cert}`, 'X-SSL-Client-Verify: perhaps']), 'FAILED:HEADER_INVALID');
      // Well-formed PEM around bytes that are not a certificate.
      const notCert = encodeURIComponent(`-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n`);
      const parseFailure = (await send([`X-SSL-Client-Cert: ${notCert}`, 'X-SSL-Client-Verify: SUCCESS'])).identity;
      assert.deepEqual(parseFailure, {
        verified: false,
        verify: 'FAILED:ERR_MTLS_CERT_PARSE',
        reason: 'ERR_MTLS_CERT_PARSE',
        source: 'nginx',
      });
      // No verify header: nginx with optional_no_ca forwards unverified certificates.
      const missing = (await send([`X-SSL-Client-Cert: ${cert}`])).identity;
      assert.equal(missing.verify, 'FAILED:PROXY_VERIFY_MISSING');
      assert.equal(missing.certificate?.subject, 'CN=alice,O=mtls-observability demo');
    },
  );
});

test('a repeated header value is a cache hit: same identity object, parsed once', async () => {
  const certificates = new CertificateCache();
  await withServer(
    { format: 'haproxy', trustedProxies: ['127.0.0.1'] },
    async (send) => {
      const lines = [`X-SSL-Client-Cert: ${Buffer.from(pki.clients.valid.der).toString('base64')}`, 'X-SSL-Client-Verify: 0'];
      const first = (await send(lines)).identity;
      const second = (await send(lines)).identity;
      assert.equal(first, second);
      assert.equal(Object.isFrozen(first), true);
      assert.equal(certificates.parseCount, 1);
      assert.equal(first.source, 'haproxy');
      assert.equal(first.verify, 'SUCCESS');
    },
    certificates,
  );
});

test('every format through the source names itself as the source', async () => {
  const { valid } = pki.clients;
  const b64 = Buffer.from(valid.der).toString('base64');
  const sha = createHash('sha256').update(valid.der).digest('hex');
  const samples: Record<(typeof PROXY_FORMAT_NAMES)[number], string[]> = {
    'envoy-xfcc': [`X-Forwarded-Client-Cert: By=spiffe://gw;Hash=${sha};Cert="${encodeURIComponent(valid.certPem)}";Subject="CN=alice,O=mtls-observability demo";URI=spiffe://example.org/ns/demo/sa/alice`],
    nginx: nginxHeaders(valid.certPem),
    traefik: [`X-Forwarded-Tls-Client-Cert: ${b64}`],
    'aws-alb': [`X-Amzn-Mtls-Clientcert-Leaf: ${encodeURIComponent(valid.certPem).replace(/%2B/g, '+').replace(/%2F/g, '/').replace(/%3D/g, '=')}`],
    caddy: [`X-Client-Cert: ${b64}`],
    haproxy: [`X-SSL-Client-Cert: ${b64}`, 'X-SSL-Client-Verify: 0'],
    cloudflare: [`Cf-Client-Cert-Der-Base64: ${b64}`, `Cf-Client-Cert-Sha256: ${sha}`, 'Cf-Client-Cert-Verified: SUCCESS'],
    rfc9440: [`Client-Cert: :${b64}:`],
  };
  const expected = parseCertificate(valid.der);
  for (const format of PROXY_FORMAT_NAMES) {
    await withServer({ format, trustedProxies: ['127.0.0.1/32', '::1'] }, async (send) => {
      const { identity } = await send(samples[format]);
      assert.deepEqual(identity, { verified: true, verify: 'SUCCESS', source: format, certificate: expected }, format);
    });
  }
});

test('custom header names (ingress-nginx) replace the defaults, old names are ignored', async () => {
  await withServer(
    {
      format: 'nginx',
      trustedProxies: ['127.0.0.1/32'],
      headerNames: { cert: 'SSL-Client-Cert', verify: 'ssl-client-verify' },
    },
    async (send) => {
      const cert = encodeURIComponent(pki.clients.valid.certPem);
      assert.equal((await send([`ssl-client-cert: ${cert}`, 'ssl-client-verify: SUCCESS'])).identity.verify, 'SUCCESS');
      assert.equal((await send(nginxHeaders(pki.clients.valid.certPem))).identity.verify, 'NONE');
    },
  );
});

test('factory-time refusals (TypeError)', () => {
  const make = (options: ProxyOptions): unknown => resolveProxyOptions(FACTORY, options);
  assert.throws(() => make({ format: 'nginx', trustedProxies: ['10.0.0.1/8'] }), {
    name: 'TypeError',
    message: /^mtlsIdentity\(\): option "proxy.trustedProxies": "10.0.0.1\/8" is not a valid CIDR/,
  });
  assert.throws(() => make({ format: 'caddy', trustedProxies: ['::1'], headerNames: { chain: 'x' } }), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "proxy.headerNames" has role "chain", which format "caddy" does not read. Its roles: cert, verify.',
  });
  assert.throws(() => make({ format: 'nginx', trustedProxies: ['::1'], headerNames: { verify: 'X-SSL-Client-Cert' } }), {
    name: 'TypeError',
    message:
      'mtlsIdentity(): option "proxy.headerNames" gives roles "cert" and "verify" the same header "x-ssl-client-cert"; give each role its own header.',
  });
});

test('docs/proxies.md shows exactly the proxy configurations the end-to-end tests run: each complete file', () => {
  const docs = readFileSync(new URL('../../../docs/proxies.md', import.meta.url), 'utf8');
  const blocks = new Map([...docs.matchAll(/\n```(nginx|haproxy|caddyfile)\n([\s\S]*?\n)```\n/g)].map(([, lang, body]) => [lang!, body!]));
  for (const [lang, config] of [['nginx', 'nginx.conf'], ['haproxy', 'haproxy.cfg'], ['caddyfile', 'Caddyfile']] as const) {
    const file = readFileSync(new URL(`../../e2e/proxy-configs/${config}`, import.meta.url), 'utf8');
    assert.equal(blocks.get(lang), file, `docs/proxies.md's ${lang} block is test/e2e/proxy-configs/${config}`);
  }
  // What the issue asked each to show: forwarded-for and keep-alive to the app.
  assert.match(blocks.get('nginx')!, /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;\n\s+proxy_http_version 1\.1;\n\s+proxy_set_header Connection "";/);
  assert.match(blocks.get('nginx')!, /upstream app \{\n\s+server 127\.0\.0\.1:\{\{APP_PORT\}\};\n\s+keepalive 16;/);
  assert.match(blocks.get('haproxy')!, /\n {4}option forwardfor\n/);
});

test('mtlsIdentity() refuses proxy configurations at factory time, naming the full option path', () => {
  // Plain JavaScript callers: the types refuse all of these.
  const js = (options: unknown): unknown => mtlsIdentity(options as never);
  const refuses = (options: unknown, message: string): void => {
    assert.throws(() => js(options), { name: 'TypeError', message });
  };
  const formats = '"envoy-xfcc", "nginx", "traefik", "aws-alb", "caddy", "haproxy", "cloudflare", "rfc9440"';
  refuses(
    { proxy: { format: 'nginx' } },
    'mtlsIdentity(): option "proxy.trustedProxies" is required with "proxy": the CIDRs of the proxies that may forward client certificates, e.g. ["10.0.0.0/8"].',
  );
  refuses(
    { proxy: { trustedProxies: ['10.0.0.0/8'] } },
    `mtlsIdentity(): option "proxy.format" is required with "proxy": the proxy whose headers carry the client certificate, one of ${formats}.`,
  );
  refuses({ proxy: { onUntrustedHeaders: false } }, `mtlsIdentity(): option "proxy.format" is required with "proxy": the proxy whose headers carry the client certificate, one of ${formats}.`);
  refuses(
    { proxy: { format: 'ngnix', trustedProxies: ['::1'] } },
    `mtlsIdentity(): option "proxy.format" must be one of ${formats}, got "ngnix".`,
  );
  refuses(
    { proxy: { format: 'nginx', trustedProxies: [] } },
    'mtlsIdentity(): option "proxy.trustedProxies" must be a non-empty array of CIDR strings such as ["10.0.0.0/8", "::1"], got an array of length 0.',
  );
  refuses(
    { proxy: { format: 'nginx', trustedProxies: ['::1'], maxChainLength: 0 } },
    'mtlsIdentity(): option "proxy.maxChainLength" must be an integer from 1 to 64, got 0.',
  );
  refuses(
    { proxy: { format: 'nginx', trustedProxies: ['::1'], maxHeaderBytes: 63 } },
    'mtlsIdentity(): option "proxy.maxHeaderBytes" must be an integer from 64 to 1048576, got 63.',
  );
  refuses(
    { proxy: { format: 'nginx', trustedProxies: ['::1'], headerNames: { cert: 'bad name' } } },
    'mtlsIdentity(): option "proxy.headerNames" must be an object mapping roles to header names, such as { cert: "ssl-client-cert" }, got an object.',
  );
  refuses(
    { proxy: { format: 'nginx', trustedProxies: ['::1'], onUntrustedHeaders: true } },
    'mtlsIdentity(): option "proxy.onUntrustedHeaders" must be a function or false, got true.',
  );
  refuses(
    { proxy: { format: 'nginx', trustedProxies: ['::1'], maxProxyChainLength: 4 } },
    'mtlsIdentity(): unknown option "proxy.maxProxyChainLength". Known options of "proxy": format, trustedProxies, headerNames, maxHeaderBytes, maxChainLength, onUntrustedHeaders, forwardClientCertDetails.',
  );
  refuses({ proxy: 'nginx' }, 'mtlsIdentity(): option "proxy" must be an object such as { format: "nginx", trustedProxies: ["10.0.0.0/8"] }, got "nginx".');
  refuses({ proxy: false }, 'mtlsIdentity(): option "proxy" must be an object such as { format: "nginx", trustedProxies: ["10.0.0.0/8"] }, got false.');
  refuses(
    { proxyFormat: 'nginx' },
    'mtlsIdentity(): unknown option "proxyFormat". Known options: localsKey, require, certificates, proxy, tracing, metrics, expected, audit.',
  );
  assert.equal(typeof mtlsIdentity({ proxy: { format: 'rfc9440', trustedProxies: ['10.0.0.0/8', 'fd00::/8'] } }), 'function');
});

test('proxy: invalid combinations do not type-check', () => {
  // Each line is a compile error (npm test type-checks the tests); at run time each throws.
  const attempts = [
    // @ts-expect-error format is required
    () => mtlsIdentity({ proxy: { trustedProxies: ['::1'] } }),
    // @ts-expect-error trustedProxies is required
    () => mtlsIdentity({ proxy: { format: 'nginx' } }),
    // @ts-expect-error forwardClientCertDetails belongs to format 'envoy-xfcc' only
    () => mtlsIdentity({ proxy: { format: 'nginx', trustedProxies: ['::1'], forwardClientCertDetails: 'SANITIZE_SET' } }),
    // @ts-expect-error not a format
    () => mtlsIdentity({ proxy: { format: 'ngnix', trustedProxies: ['::1'] } }),
  ];
  for (const attempt of attempts) assert.throws(attempt, TypeError);
  assert.equal(typeof mtlsIdentity({ proxy: { format: 'envoy-xfcc', trustedProxies: ['::1'], forwardClientCertDetails: 'APPEND_FORWARD' } }), 'function');
});

test('property: every format reads arbitrary header values without throwing anything but ProxyHeaderError', () => {
  const value = fc.oneof(
    fc.string(),
    fc.string({ unit: fc.constantFrom('%', 'A', '=', ':', ',', ';', '"', '\\', '{', '}', 'SUCCESS', 'FAILED:', '0', '-----BEGIN CERTIFICATE-----', '-----END CERTIFICATE-----', 'Cert=', 'Hash=') }),
  );
  for (const format of Object.values(PROXY_FORMATS)) {
    const roles = [...Object.keys(format.headers), ...(format.optionalRoles ?? [])];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...roles), value), (values) => {
        try {
          format.read((role) => values[role] || undefined, { maxChainLength: 4 });
        } catch (err) {
          assert.ok(err instanceof ProxyHeaderError, `${format.name}: ${String(err)}`);
        }
      }),
      { numRuns: 300 },
    );
  }
});

test('HTTP/2: untrusted peers fall back to their TLS connection, trusted ones are read from headers', async () => {
  const events: UntrustedProxyHeadersEvent[] = [];
  const middleware = mtlsIdentity({
    proxy: { format: 'nginx', trustedProxies: ['127.0.0.1/32'], onUntrustedHeaders: (e) => events.push(e) },
  });
  const seen: { identity: PeerIdentity | undefined; header: unknown }[] = [];
  const server = http2.createSecureServer(
    { cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      middleware(req, res, () => {
        seen.push({ identity: getPeerIdentity(req), header: req.headers['x-ssl-client-cert'] });
        res.end('ok');
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const request = (localAddress: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const session = http2.connect(`https://localhost:${port}`, {
        ca: pki.ca.certPem,
        cert: pki.clients.valid.chainPem,
        key: pki.clients.valid.keyPem,
        localAddress,
        host: '127.0.0.1',
        servername: 'localhost',
      } as http2.SecureClientSessionOptions);
      session.on('error', reject);
      const stream = session.request({
        ':path': '/',
        'x-ssl-client-cert': encodeURIComponent(pki.clients.untrusted.certPem),
        'x-ssl-client-verify': 'SUCCESS',
      });
      stream.resume();
      stream.on('end', () => session.close(() => resolve()));
      stream.on('error', reject);
    });
  try {
    await request('127.0.0.2');
    await request('127.0.0.1');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const [untrusted, trusted] = seen;
  assert.equal(untrusted?.identity?.source, 'tls');
  assert.equal(untrusted?.identity?.verify, 'SUCCESS');
  assert.equal(untrusted?.identity?.certificate?.subject, 'CN=alice,O=mtls-observability demo');
  assert.equal(untrusted?.header, undefined);
  assert.deepEqual(events, [{ remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'] }]);
  // From the trusted address the (here client-made) headers are believed: why only proxies may be trusted.
  assert.equal(trusted?.identity?.source, 'nginx');
  assert.equal(trusted?.identity?.certificate?.subject, 'CN=untrusted,O=mtls-observability demo');
});

test('untrusted peer without a hook: mtlsIdentity() writes one JSON line on stderr naming the address and the headers', async () => {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const server = await startMiddlewareServer({ proxy: { format: 'rfc9440', trustedProxies: ['127.0.0.1/32'] }, metrics: false, tracing: false });
  try {
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0);
    try {
      await server.send([`Client-Cert: :${Buffer.from(pki.clients.valid.der).toString('base64')}:`], { localAddress: '127.0.0.2' });
    } finally {
      process.stderr.write = write;
    }
  } finally {
    await server.close();
  }
  assert.equal(written.length, 1);
  const line = JSON.parse(written[0]!) as Record<string, unknown>;
  assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
  delete line.time;
  assert.deepEqual(line, {
    event: 'mtls.untrusted_proxy_headers',
    remoteAddress: '127.0.0.2',
    format: 'rfc9440',
    headers: ['client-cert'],
  });
});

test('untrusted peer: the proxy source itself writes nothing to stderr (reporting is the middleware\'s)', async () => {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  await withServer({ format: 'rfc9440', trustedProxies: ['127.0.0.1/32'] }, async (send) => {
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0);
    try {
      const seen = await send([`Client-Cert: :${Buffer.from(pki.clients.valid.der).toString('base64')}:`], '127.0.0.2');
      assert.equal(seen.headers['client-cert'], undefined);
    } finally {
      process.stderr.write = write;
    }
  });
  assert.deepEqual(written, []);
});

test('untrusted peer: onUntrustedHeaders false reports nothing, the metric still counts', async () => {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const server = await startMiddlewareServer({ proxy: { format: 'nginx', trustedProxies: ['127.0.0.1/32'], onUntrustedHeaders: false }, tracing: false });
  try {
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0);
    try {
      const response = await server.send(nginxHeaders(pki.clients.valid.certPem), { localAddress: '127.0.0.2' });
      assert.equal(response.body.source, 'tls');
    } finally {
      process.stderr.write = write;
    }
  } finally {
    await server.close();
  }
  assert.deepEqual(written, []);
});

test('dual-stack and IPv6 listeners: IPv4-mapped peers match IPv4 CIDRs, ::1 matches an IPv6 entry', async () => {
  const lines = nginxHeaders(pki.clients.valid.certPem);
  const events: UntrustedProxyHeadersEvent[] = [];
  // A server on "::" sees IPv4 clients as ::ffff:a.b.c.d.
  await withServer(
    { format: 'nginx', trustedProxies: ['127.0.0.1/32', '::1'], onUntrustedHeaders: (e) => events.push(e) },
    async (send) => {
      assert.equal((await send(lines, '127.0.0.1')).identity.source, 'nginx');
      assert.equal((await send(lines, '::1')).identity.source, 'nginx');
      assert.equal((await send(lines, '127.0.0.2')).identity.source, 'tls');
    },
    undefined,
    '::',
  );
  assert.deepEqual(events.map((e) => e.remoteAddress), ['::ffff:127.0.0.2']);
  await withServer(
    { format: 'nginx', trustedProxies: ['127.0.0.0/8'], onUntrustedHeaders: (e) => events.push(e) },
    async (send) => {
      assert.equal((await send(lines, '::1')).identity.source, 'tls');
    },
    undefined,
    '::1',
  );
  assert.deepEqual(events.map((e) => e.remoteAddress), ['::ffff:127.0.0.2', '::1']);
});

test('untrusted peer: companion headers of the format (AWS ALB subject, Traefik info) are removed too', async () => {
  const events: UntrustedProxyHeadersEvent[] = [];
  await withServer(
    { format: 'aws-alb', trustedProxies: ['10.0.0.0/8'], onUntrustedHeaders: (e) => events.push(e) },
    async (send) => {
      const seen = await send(['X-Amzn-Mtls-Clientcert-Subject: CN=admin', 'X-Amzn-Mtls-Clientcert-Serial-Number: 01']);
      assert.equal(seen.headers['x-amzn-mtls-clientcert-subject'], undefined);
      assert.deepEqual(seen.rawHeaders, ['Host', 'app', 'Connection', 'close']);
    },
  );
  await withServer(
    { format: 'traefik', trustedProxies: ['10.0.0.0/8'], onUntrustedHeaders: (e) => events.push(e) },
    async (send) => {
      const seen = await send(['X-Forwarded-Tls-Client-Cert-Info: Subject%3D%22CN%3Dadmin%22']);
      assert.equal(seen.headers['x-forwarded-tls-client-cert-info'], undefined);
    },
  );
  assert.deepEqual(events.map((e) => e.headers), [
    ['x-amzn-mtls-clientcert-subject', 'x-amzn-mtls-clientcert-serial-number'],
    ['x-forwarded-tls-client-cert-info'],
  ]);
});

test('trustedProxies: an IPv6 range over the IPv4-mapped block is refused; IPv4 peers of a dual-stack server stay untrusted by IPv6 entries', async () => {
  assert.throws(() => mtlsIdentity({ proxy: { format: 'nginx', trustedProxies: ['::/64'] } }), {
    name: 'TypeError',
    message: /option "proxy.trustedProxies": "::\/64" is not a valid CIDR: this IPv6 range contains ::ffff:0:0\/96 and would trust every IPv4 peer/,
  });
  const events: UntrustedProxyHeadersEvent[] = [];
  await withServer(
    { format: 'nginx', trustedProxies: ['::1', '2001:db8::/32'], onUntrustedHeaders: (e) => events.push(e) },
    async (send) => {
      assert.equal((await send(nginxHeaders(pki.clients.valid.certPem), '127.0.0.1')).identity.source, 'tls');
      assert.equal((await send(nginxHeaders(pki.clients.valid.certPem), '::1')).identity.source, 'nginx');
    },
    undefined,
    '::',
  );
  assert.deepEqual(events.map((e) => e.remoteAddress), ['::ffff:127.0.0.1']);
});

test('a configured verify header that is absent or empty is PROXY_VERIFY_MISSING, never verified (rfc9440, caddy, traefik)', async () => {
  // Cloudflare forwards Client-Cert for certificates it did not verify; the deployment names the
  // verify header it adds with a Transform Rule, and the rule did not run (or wrote nothing).
  const { untrusted } = pki.clients;
  const b64 = Buffer.from(untrusted.der).toString('base64');
  const cases: ['rfc9440' | 'caddy' | 'traefik', string, string][] = [
    ['rfc9440', 'Client-Cert', `:${b64}:`],
    ['caddy', 'X-Client-Cert', b64],
    ['traefik', 'X-Forwarded-Tls-Client-Cert', b64],
  ];
  for (const [proxyFormat, name, value] of cases) {
    const server = await startMiddlewareServer({
      proxy: { format: proxyFormat, trustedProxies: ['127.0.0.1'], headerNames: { verify: 'x-client-cert-verified' } },
      require: true,
      metrics: false,
      tracing: false,
    });
    try {
      for (const verifyLines of [[], ['X-Client-Cert-Verified: '], ['X-Client-Cert-Verified:']]) {
        const response = await server.send([`${name}: ${value}`, ...verifyLines]);
        assert.deepEqual(response, {
          status: 403,
          body: {
            code: 'ERR_MTLS_CLIENT_CERT_INVALID',
            message: 'The client certificate was not accepted (PROXY_VERIFY_MISSING).',
            verify: 'FAILED:PROXY_VERIFY_MISSING',
          },
        }, `${proxyFormat} ${JSON.stringify(verifyLines)}`);
      }
      // The verify header still decides when it is there.
      const verified = await server.send([`${name}: ${value}`, 'X-Client-Cert-Verified: SUCCESS']);
      assert.equal(verified.status, 200, proxyFormat);
      assert.equal(verified.body.verify, 'SUCCESS');
      const failed = await server.send([`${name}: ${value}`, 'X-Client-Cert-Verified: FAILED:unable to get local issuer certificate']);
      assert.equal((failed.body as { verify?: string }).verify, 'FAILED:UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    } finally {
      await server.close();
    }
  }
});

test('AWS ALB: a -Leaf header beside the passthrough chain header does not make the identity verified', async () => {
  const alb = (pem: string): string => encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%2F/g, '/').replace(/%3D/g, '=');
  const server = await startMiddlewareServer({ proxy: { format: 'aws-alb', trustedProxies: ['127.0.0.1'] }, metrics: false, tracing: false });
  try {
    // Passthrough mode forwards the presented chain unverified; the client adds its own -Leaf.
    const response = await server.send([
      `X-Amzn-Mtls-Clientcert: ${alb(pki.clients.untrusted.chainPem)}`,
      `X-Amzn-Mtls-Clientcert-Leaf: ${alb(pki.clients.valid.certPem)}`,
    ]);
    assert.deepEqual(response, {
      status: 200,
      body: {
        verified: false,
        verify: 'FAILED:PROXY_UNVERIFIED',
        reason: 'PROXY_UNVERIFIED',
        source: 'aws-alb',
        subject: 'CN=untrusted,O=mtls-observability demo',
        issuer: 'CN=mtls-observability untrusted CA',
        fingerprint256: parseCertificate(pki.clients.untrusted.der).fingerprint256,
        uri: [],
      },
    });
    const verifyMode = await server.send([`X-Amzn-Mtls-Clientcert-Leaf: ${alb(pki.clients.valid.certPem)}`]);
    assert.equal(verifyMode.body.verify, 'SUCCESS');
  } finally {
    await server.close();
  }
});

test('trailers: certificate headers sent as trailers are removed and reported, from untrusted and trusted peers', async () => {
  const events: UntrustedProxyHeadersEvent[] = [];
  const server = await startMiddlewareServer({
    proxy: { format: 'nginx', trustedProxies: ['127.0.0.1'], onUntrustedHeaders: (e) => events.push(e) },
    metrics: false,
    tracing: false,
  });
  try {
    const forged = [`X-SSL-Client-Cert: ${encodeURIComponent(pki.clients.valid.certPem)}`, 'x-ssl-client-verify: SUCCESS', 'X-Other: kept'];
    // A real chunked request whose trailers carry the certificate headers (no proxy rewrites
    // trailers), first straight from an untrusted peer, then through the trusted proxy's address.
    const untrusted = await server.send([], { localAddress: '127.0.0.2', chunks: ['hello ', 'world'], trailerLines: forged });
    assert.deepEqual(untrusted.body, { verified: false, verify: 'NONE', reason: 'NOT_TLS', source: 'tls' });
    assert.deepEqual(server.last?.trailers, { 'x-other': 'kept' });
    assert.deepEqual(server.last?.rawTrailers, ['X-Other', 'kept']);
    const trusted = await server.send(nginxHeaders(pki.clients.untrusted.certPem, 'FAILED:certificate not trusted'), {
      chunks: ['body'],
      trailerLines: forged,
    });
    assert.equal(trusted.body.verify, 'FAILED:CERT_UNTRUSTED');
    assert.deepEqual(server.last?.trailers, { 'x-other': 'kept' });
    assert.deepEqual(events, [
      { remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'], trailers: true },
      { remoteAddress: '127.0.0.1', format: 'nginx', headers: ['x-ssl-client-cert', 'x-ssl-client-verify'], trailers: true },
    ]);
    // Trailers without those names: nothing reported, nothing removed.
    await server.send([], { localAddress: '127.0.0.2', chunks: ['x'], trailerLines: ['X-Other: kept'] });
    assert.deepEqual(server.last?.trailers, { 'x-other': 'kept' });
    assert.equal(events.length, 2);
  } finally {
    await server.close();
  }
});

test('trailers: HTTP/2 trailers carrying certificate headers are removed and reported too', async () => {
  const events: UntrustedProxyHeadersEvent[] = [];
  const middleware = mtlsIdentity({ proxy: { format: 'nginx', trustedProxies: ['127.0.0.1'], onUntrustedHeaders: (e) => events.push(e) }, metrics: false, tracing: false });
  let seen: { trailers: unknown; rawTrailers: string[] } | undefined;
  const server = http2.createSecureServer({ cert: pki.server.chainPem, key: pki.server.keyPem }, (req, res) => {
    middleware(req, res, () => {
      req.resume();
      req.on('end', () => {
        seen = { trailers: Object.fromEntries(Object.entries(req.trailers)), rawTrailers: [...req.rawTrailers] };
        res.end('ok');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    await new Promise<void>((resolve, reject) => {
      const session = http2.connect(`https://localhost:${port}`, {
        ca: pki.ca.certPem,
        host: '127.0.0.1',
        servername: 'localhost',
        localAddress: '127.0.0.2',
      } as http2.SecureClientSessionOptions);
      session.on('error', reject);
      const stream = session.request({ ':path': '/', ':method': 'POST' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-ssl-client-cert': 'forged', 'x-other': 'kept' }));
      stream.end('body');
      stream.resume();
      stream.on('error', reject);
      stream.on('end', () => session.close(() => resolve()));
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.deepEqual(seen, { trailers: { 'x-other': 'kept' }, rawTrailers: ['x-other', 'kept'] });
  assert.deepEqual(events, [{ remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-cert'], trailers: true }]);
});

test('trailers: also removed when a body parser read the whole request before the middleware ran', async () => {
  const events: UntrustedProxyHeadersEvent[] = [];
  const middleware = mtlsIdentity({ proxy: { format: 'nginx', trustedProxies: ['127.0.0.1'], onUntrustedHeaders: (e) => events.push(e) }, metrics: false, tracing: false });
  let trailers: unknown;
  const server = http.createServer((req, res) => {
    // Like express.json() mounted first: the body (and so the trailers) is read, then mtlsIdentity.
    req.resume();
    req.on('end', () => {
      middleware(req, res, () => {
        trailers = { ...req.trailers };
        res.end('ok');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }, () => {
        socket.end('POST / HTTP/1.1\r\nHost: app\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-SSL-Client-Verify: SUCCESS\r\nX-Other: kept\r\n\r\n');
      });
      socket.resume();
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  assert.deepEqual(trailers, { 'x-other': 'kept' });
  assert.deepEqual(events, [{ remoteAddress: '127.0.0.2', format: 'nginx', headers: ['x-ssl-client-verify'], trailers: true }]);
});
