import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import express from 'express';
import type morganType from 'morgan';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import { attachPeerIdentity } from '../../lib/identity/registry.js';
import { MAX_LOG_FIELD_LENGTH, TRUNCATION_MARKER } from '../../lib/internal/log-safe.js';
import { registerMorganTokens, mtlsJsonFormat, MTLS_COMBINED_FORMAT, type MorganFormatFunction, type MorganLike } from '../../lib/outputs/morgan.js';
import { MORGAN_TOKEN_NAMES } from '../../lib/outputs/identity-fields.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { HOSTILE_COMMON_NAME } from '../../lib/dev-certs/index.js';
import type { PeerCertificate } from '../../lib/certificate/peer-certificate.js';
import { getTestPki } from '../helpers/pki.js';
import { issueLargeClient, LARGE_SERIAL, LARGE_SPIFFE_ID } from '../helpers/large-certificate.js';
import { httpsRequest, keepAliveAgent, startHttpsServer } from '../helpers/https.js';
import { getPeerIdentity } from '../../lib/get-peer-identity.js';
import type { IdentitySourceName, PeerIdentity, VerifyResult } from '../../lib/identity/peer-identity.js';

type Morgan = typeof morganType;
const require = createRequire(import.meta.url);

/** A fresh copy of a morgan version, with nothing registered on it yet. */
function freshMorgan(name: 'morgan' | 'morgan110'): Morgan {
  delete require.cache[require.resolve(name)];
  return require(name) as Morgan;
}

const VERSIONS = [
  { name: 'morgan', version: '1.12', escapes: true },
  { name: 'morgan110', version: '1.10', escapes: false },
] as const;

let pki: DevCertificateSet;
/** A trusted client whose SPIFFE ID holds a quote, a space, a backslash, a newline and non-URI characters. */
let oddSpiffe: DevCertificate;
const ODD_SPIFFE_ID = 'spiffe://example.org/ns/a"b c\\d\n<e>';

/** A trusted client with a certificate of about 14 KB (test/helpers/large-certificate.ts). */
let huge: DevCertificate;
/** A trusted client whose CN holds the invisible characters every format must escape. */
let invisible: DevCertificate;
const INVISIBLE_CN = 'inv\u061c\u00ad\u2060\u2061\u2062\u2063\u2064\ufff9\ufffa\ufffb\u{e0041}\u{e007f}end';

before(async () => {
  pki = await getTestPki();
  oddSpiffe = await pki.ca.issue({ subject: 'odd-spiffe', san: { uri: [ODD_SPIFFE_ID] } });
  huge = await issueLargeClient(pki);
  invisible = await pki.ca.issue({
    subject: [
      { type: 'O', value: 'mtls-observability demo' },
      { type: 'CN', value: INVISIBLE_CN },
    ],
  });
});

function logSink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  return { stream, text: () => text };
}

/** Runs `requests` against an Express 5 app logging with `format` on `morgan`; returns the log text. */
async function logRequests(
  morgan: Morgan,
  format: string,
  requests: readonly { path: string; client?: DevCertificate }[],
  options: { middleware?: boolean } = {},
): Promise<string> {
  const sink = logSink();
  const app = express();
  app.use(morgan(format, { stream: sink.stream }));
  if (options.middleware !== false) app.use(mtlsIdentity({ tracing: false, metrics: false }));
  app.use((_req, res) => {
    res.send('ok');
  });
  const server = await startHttpsServer(app);
  try {
    for (const request of requests) {
      const response = await httpsRequest({ port: server.port, path: request.path, ...(request.client ? { client: request.client } : {}) });
      assert.equal(response.status, 200);
    }
    // morgan writes on 'finish', which can trail the client's 'end' by a tick.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    await server.close();
  }
  return sink.text();
}

/** One request written byte for byte over TLS, presenting `client`; resolves with the raw response. */
async function rawTlsRequest(port: number, client: DevCertificate, request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tls.connect(
      { host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.certPem, cert: client.chainPem, key: client.keyPem },
      () => socket.write(request),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const CLF_DATE = /\[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\]/;

/** What morgan 1.12 does to a token's string output (escapeLogField), for the expected lines. */
function morgan112Escape(value: string): string {
  return value.replace(/[\\"\n]/g, (ch) => (ch === '\n' ? '\\n' : `\\${ch}`));
}

function combinedLine(path: string, certificate: PeerCertificate | undefined, verify: string, escapes: boolean): string {
  const field = (value: string | undefined) => (value === undefined ? '-' : escapes ? morgan112Escape(value) : value);
  return (
    `127.0.0.1 - - [DATE] "GET ${path} HTTP/1.1" 200 2 "-" "-" verify=${verify}` +
    ` subject="${field(certificate?.subject)}" issuer="${field(certificate?.issuer)}"` +
    ` serial=${certificate?.serialNumber ?? '-'} not_after=${certificate?.notAfter.toISOString() ?? '-'}` +
    ` spiffe=${certificate?.spiffeId ?? '-'} fingerprint=${certificate?.fingerprint256 ?? '-'}`
  );
}

for (const { name, version, escapes } of VERSIONS) {
  test(`morgan ${version}: mtls-combined gives exactly one line per request, hostile CN included`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const text = await logRequests(morgan, 'mtls-combined', [
      { path: '/hostile', client: pki.clients.hostile },
      { path: '/valid', client: pki.clients.valid },
      { path: '/none' },
      { path: '/expired', client: pki.clients.expired },
    ]);
    const lines = text.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 4);
    const normalized = lines.map((line) => line.replace(CLF_DATE, '[DATE]'));
    const hostile = parseCertificate(pki.clients.hostile.der);
    const valid = parseCertificate(pki.clients.valid.der);
    const expired = parseCertificate(pki.clients.expired.der);
    assert.deepEqual(normalized, [
      combinedLine('/hostile', hostile, 'SUCCESS', escapes),
      combinedLine('/valid', valid, 'SUCCESS', escapes),
      combinedLine('/none', undefined, 'NONE', escapes),
      combinedLine('/expired', expired, 'FAILED:CERT_HAS_EXPIRED', escapes),
    ]);
    // A reader that honours backslash escapes inside quotes sees the same five quoted fields on
    // every line: request, referrer, user agent, subject, issuer. The CN's quotes never close one.
    for (const line of lines) {
      const quoted = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      assert.equal(quoted.length, 5, line);
      assert.match(quoted[0]!, /^GET \/\w+ HTTP\/1\.1$/);
      assert.ok(quoted[4] === 'CN=mtls-observability development CA' || quoted[4] === '-', line);
    }
    // The forged request line inside the CN never starts a line of its own.
    assert.ok(lines.every((line) => line.startsWith('127.0.0.1 - - [')));
    assert.ok(!text.includes('\n127.0.0.1 - admin'));
    assert.equal(
      hostile.subject,
      'CN=mallory\\"\\0A127.0.0.1 - admin [27/Nov/2026:00:00:00 \\+0000] \\"GET /admin HTTP/1.1\\" 200 0 \\"\\\\,O=mtls-observability demo',
    );
    // The hostile line, exactly, as each version prints it.
    assert.equal(
      normalized[0]!.split(' verify=')[1]!.split(' serial=')[0],
      escapes
        ? 'SUCCESS subject="CN=mallory\\\\\\"\\\\0A127.0.0.1 - admin [27/Nov/2026:00:00:00 \\\\+0000] \\\\\\"GET /admin HTTP/1.1\\\\\\" 200 0 \\\\\\"\\\\\\\\,O=mtls-observability demo" issuer="CN=mtls-observability development CA"'
        : 'SUCCESS subject="CN=mallory\\"\\0A127.0.0.1 - admin [27/Nov/2026:00:00:00 \\+0000] \\"GET /admin HTTP/1.1\\" 200 0 \\"\\\\,O=mtls-observability demo" issuer="CN=mtls-observability development CA"',
    );
  });

  test(`morgan ${version}: mtls-combined prints what morgan compiles from MTLS_COMBINED_FORMAT, identity by identity`, () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const format = (morgan as unknown as Record<string, MorganFormatFunction>)['mtls-combined']!;
    const compiled = morgan.compile(MTLS_COMBINED_FORMAT) as unknown as MorganFormatFunction;
    const hostile = parseCertificate(pki.clients.hostile.der);
    const valid = parseCertificate(pki.clients.valid.der);
    // The same certificate with another verify result, and back: a kept identity part must follow it.
    const identities: (PeerIdentity | undefined)[] = [
      { verified: true, verify: 'SUCCESS', source: 'tls', certificate: hostile },
      { verified: false, verify: 'FAILED:CERT_REVOKED', reason: 'CERT_REVOKED', source: 'tls', certificate: hostile },
      { verified: true, verify: 'SUCCESS', source: 'tls', certificate: hostile },
      { verified: true, verify: 'SUCCESS', source: 'tls', certificate: valid },
      { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' },
      { verified: false, verify: 'FAILED:bad "reason"\n' as VerifyResult, reason: 'x', source: 'test' as IdentitySourceName },
      undefined,
      { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' },
    ];
    const lines = identities.map((identity) => {
      const req = { method: 'GET', url: '/x', httpVersionMajor: 1, httpVersionMinor: 1, headers: {}, ip: '192.0.2.1' };
      const res = { statusCode: 200, headersSent: true, _header: 'HTTP/1.1 200 OK', getHeader: () => undefined };
      if (identity !== undefined) attachPeerIdentity(req as never, identity);
      const ours = format(morgan, req as never, res as never);
      assert.equal(ours, compiled(morgan, req as never, res as never));
      return String(ours).replace(CLF_DATE, '[DATE]');
    });
    const field = (value: string) => (escapes ? morgan112Escape(value) : value);
    const fields = (c: PeerCertificate) =>
      `subject="${field(c.subject)}" issuer="${field(c.issuer)}" serial=${c.serialNumber}` +
      ` not_after=${c.notAfter.toISOString()} spiffe=${c.spiffeId ?? '-'} fingerprint=${c.fingerprint256}`;
    const none = 'subject="-" issuer="-" serial=- not_after=- spiffe=- fingerprint=-';
    const start = '192.0.2.1 - - [DATE] "GET /x HTTP/1.1" 200 - "-" "-"';
    assert.deepEqual(lines, [
      `${start} verify=SUCCESS ${fields(hostile)}`,
      `${start} verify=FAILED:CERT_REVOKED ${fields(hostile)}`,
      `${start} verify=SUCCESS ${fields(hostile)}`,
      `${start} verify=SUCCESS ${fields(valid)}`,
      `${start} verify=NONE ${none}`,
      `${start} verify=FAILED:bad%20%22reason%22%0A ${none}`,
      `${start} verify=- ${none}`,
      `${start} verify=NONE ${none}`,
    ]);
  });

  test(`morgan ${version}: mtls-json lines parse to the exact original values`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const text = await logRequests(morgan, 'mtls-json', [
      { path: '/hostile?q=%22x%22', client: pki.clients.hostile },
      { path: '/valid', client: pki.clients.valid },
      { path: '/none' },
      { path: '/untrusted', client: pki.clients.untrusted },
    ]);
    const lines = text.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 4);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const identityFields = (certificate: PeerCertificate | undefined, verify: string, reason?: string) => ({
      peer_cert_verify: verify,
      ...(reason === undefined ? {} : { peer_cert_reason: reason }),
      peer_cert_source: 'tls',
      ...(certificate === undefined
        ? {}
        : {
            peer_cert_subject: certificate.subject,
            peer_cert_issuer: certificate.issuer,
            peer_cert_serial: certificate.serialNumber,
            peer_cert_fingerprint: certificate.fingerprint256,
            peer_cert_not_after: certificate.notAfter.toISOString(),
            ...(certificate.spiffeId === undefined ? {} : { peer_cert_spiffe: certificate.spiffeId }),
          }),
    });
    const expected = [
      { url: '/hostile?q=%22x%22', ...identityFields(parseCertificate(pki.clients.hostile.der), 'SUCCESS') },
      { url: '/valid', ...identityFields(parseCertificate(pki.clients.valid.der), 'SUCCESS') },
      { url: '/none', ...identityFields(undefined, 'NONE', 'CERT_MISSING') },
      {
        url: '/untrusted',
        ...identityFields(
          parseCertificate(pki.clients.untrusted.der),
          'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE',
          'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        ),
      },
    ];
    for (const [i, record] of records.entries()) {
      const { time, response_time_ms, ...rest } = record;
      assert.match(time as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.equal(typeof response_time_ms, 'number');
      assert.deepEqual(rest, {
        remote_addr: '127.0.0.1',
        method: 'GET',
        http_version: '1.1',
        status: 200,
        content_length: 2,
        ...expected[i],
      });
    }
    // Escaped once: the JSON string holds the RFC 4514 value itself, not morgan's escaping of it.
    assert.equal(records[0]!.peer_cert_subject, parseCertificate(pki.clients.hostile.der).subject);
    assert.ok((records[0]!.peer_cert_subject).includes(`mallory\\"\\0A127.0.0.1`));
    assert.ok(HOSTILE_COMMON_NAME.includes('\n'));
  });

  test(`morgan ${version}: mtls-json escapes line separators JSON.stringify leaves raw`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const sink = logSink();
    const app = express();
    app.use(morgan('mtls-json', { stream: sink.stream }));
    app.use(mtlsIdentity({ tracing: false, metrics: false }));
    app.use((_req, res) => {
      res.send('ok');
    });
    const server = await startHttpsServer(app);
    try {
      // Header bytes are read as Latin-1: 0x85 arrives as U+0085 (NEL), a line break to some tools.
      await httpsRequest({ port: server.port, client: pki.clients.valid, headers: { 'user-agent': 'a\x85b\x9fc' } });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await server.close();
    }
    const text = sink.text();
    assert.ok(text.includes('"user_agent":"a\\u0085b\\u009fc"'), text);
    assert.ok(!/[\u0085\u009f\u2028\u2029]/.test(text));
    assert.equal(text.split('\n').length, 2);
    assert.equal((JSON.parse(text) as Record<string, unknown>).user_agent, 'a\x85b\x9fc');
  });

  test(`morgan ${version}: mtls-json reads morgan's tokens, escaped once, also without registerMorganTokens`, () => {
    // morgan(mtlsJsonFormat) on a morgan nothing was registered on: whether it escapes is asked of it.
    const morgan = freshMorgan(name);
    const req = {
      method: 'GET',
      url: '/x',
      originalUrl: '/a"b\\c',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
      headers: { 'user-agent': 'ua \\"q\\" \\n\n', referer: 'ref\u2028' },
      ip: '192.0.2.1',
      _startAt: [100, 0],
    };
    const res = { statusCode: 201, headersSent: true, _header: 'HTTP/1.1 201 Created', getHeader: (n: string) => (n === 'content-length' ? '17' : undefined), _startAt: [100, 1_500_000] };
    const line = mtlsJsonFormat(morgan, req as never, res as never);
    assert.equal(
      line.replace(/"time":"[^"]+"/, '"time":"T"'),
      '{"time":"T","remote_addr":"192.0.2.1","method":"GET","url":"/a\\"b\\\\c","http_version":"1.1","status":201,' +
        '"content_length":17,"referrer":"ref\\u2028","user_agent":"ua \\\\\\"q\\\\\\" \\\\n\\n","response_time_ms":1.5}',
    );
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(record.url, '/a"b\\c');
    assert.equal(record.user_agent, 'ua \\"q\\" \\n\n');
    assert.match(record.time as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // A token the app redefines is what the line shows, as in morgan's own formats.
    morgan.token('remote-addr', () => 'redefined "addr"');
    assert.equal((JSON.parse(mtlsJsonFormat(morgan, req as never, res as never)) as Record<string, unknown>).remote_addr, 'redefined "addr"');
  });

  test(`morgan ${version}: URI and verify values are percent-encoded where a URI does not allow the character`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const text = await logRequests(morgan, 'spiffe=:peer_cert_spiffe subject=":peer_cert_subject"', [
      { path: '/', client: oddSpiffe },
    ]);
    assert.equal(text, 'spiffe=spiffe://example.org/ns/a%22b%20c%5Cd%0A%3Ce%3E subject="CN=odd-spiffe"\n');
    const json = await logRequests(morgan, 'mtls-json', [{ path: '/', client: oddSpiffe }]);
    assert.equal((JSON.parse(json) as Record<string, unknown>).peer_cert_spiffe, ODD_SPIFFE_ID);
  });

  test(`morgan ${version}: tokens print "-" when the middleware did not run`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const format = MORGAN_TOKEN_NAMES.map((token) => `:${token}`).join(' ');
    const text = await logRequests(morgan, format, [{ path: '/', client: pki.clients.valid }], { middleware: false });
    assert.equal(text, '- - - - - - -\n');
  });

  test(`morgan ${version}: never overwrites an existing token or format`, () => {
    const morgan = freshMorgan(name);
    morgan.token('peer_cert_serial', () => 'theirs');
    assert.throws(() => registerMorganTokens(morgan), {
      name: 'TypeError',
      message:
        'registerMorganTokens(): morgan already has a token or format named "peer_cert_serial"; refusing to overwrite it. Remove the other definition (another copy of mtls-observability with a different state version also registers these names) or register on a morgan instance without it.',
    });
    // Nothing was registered: the check runs before the first registration.
    assert.equal((morgan as unknown as Record<string, unknown>).peer_cert_subject, undefined);

    const other = freshMorgan(name);
    other.format('mtls-json', ':method');
    assert.throws(() => registerMorganTokens(other), { name: 'TypeError', message: /format named "mtls-json"/ });
    registerMorganTokens(other, { formats: false });
    assert.equal((other as unknown as Record<string, unknown>)['mtls-json'], ':method');
    assert.equal(typeof (other as unknown as Record<string, unknown>).peer_cert_subject, 'function');
  });

  test(`morgan ${version}: registering again is a no-op; morgan's own members are protected`, () => {
    const morgan = freshMorgan(name);
    registerMorganTokens(morgan);
    const before = (morgan as unknown as Record<string, unknown>).peer_cert_subject;
    assert.equal(registerMorganTokens(morgan), morgan);
    assert.equal((morgan as unknown as Record<string, unknown>).peer_cert_subject, before);
    assert.equal(typeof (morgan as unknown as Record<string, unknown>)['mtls-combined'], 'function');
    // A morgan that already defines a token named like one of ours through its own members.
    const shadowed = freshMorgan(name);
    (shadowed as unknown as Record<string, unknown>).peer_cert_verify = 'not a function';
    assert.throws(() => registerMorganTokens(shadowed), { name: 'TypeError', message: /"peer_cert_verify"/ });
  });

  test(`morgan ${version}: a certificate of tens of kilobytes gives bounded identity fields with the marker; res.locals keeps the full values`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const combined = logSink();
    const json = logSink();
    const tokens = logSink();
    const plain = logSink();
    const seen: PeerIdentity[] = [];
    const app = express();
    app.use(morgan('combined', { stream: plain.stream }));
    app.use(morgan('mtls-combined', { stream: combined.stream }));
    app.use(morgan('mtls-json', { stream: json.stream }));
    app.use(morgan('subject=":peer_cert_subject" spiffe=:peer_cert_spiffe serial=:peer_cert_serial', { stream: tokens.stream }));
    app.use(mtlsIdentity({ tracing: false, metrics: false }));
    app.use((req, res) => {
      seen.push(getPeerIdentity(req)!);
      assert.equal(res.locals.mtls, seen.at(-1));
      res.send('ok');
    });
    const server = await startHttpsServer(app);
    // Keep-alive: three small requests on one connection with the large certificate.
    const agent = keepAliveAgent(huge);
    try {
      for (const path of ['/a', '/b', '/c']) assert.equal((await httpsRequest({ port: server.port, path, agent })).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      agent.destroy();
      await server.close();
    }
    const certificate = parseCertificate(huge.der);
    assert.ok(huge.der.length > 14_000 && huge.der.length < 16_384, String(huge.der.length));
    // res.locals and getPeerIdentity(): the full values.
    assert.equal(seen.length, 3);
    for (const identity of seen) {
      assert.equal(identity.certificate!.subject, certificate.subject);
      assert.equal(identity.certificate!.subject.length, 22_029);
      assert.equal(identity.certificate!.spiffeId, LARGE_SPIFFE_ID);
      assert.equal(identity.certificate!.san.uri.length, 13);
    }

    // The subject is cut before an escape that would not fit: `CN=` and 255 `\0Aa` are 1,023
    // characters, the next `\0A` would make 1,026.
    const subject = `CN=${'\\0Aa'.repeat(255)}${TRUNCATION_MARKER}`;
    assert.equal(subject.length, 1_023 + 14);
    const spiffe = `spiffe://example.org/${'p'.repeat(MAX_LOG_FIELD_LENGTH - 21)}${TRUNCATION_MARKER}`;
    assert.equal(spiffe.length, 1_038);
    const printed = escapes ? morgan112Escape(subject) : subject;

    const lines = combined.text().split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((line) => line.replace(CLF_DATE, '[DATE]')),
      ['/a', '/b', '/c'].map(
        (path) =>
          `127.0.0.1 - - [DATE] "GET ${path} HTTP/1.1" 200 2 "-" "-" verify=SUCCESS subject="${printed}"` +
          ` issuer="CN=mtls-observability development CA" serial=${LARGE_SERIAL}` +
          ` not_after=${certificate.notAfter.toISOString()} spiffe=${spiffe} fingerprint=${certificate.fingerprint256}`,
      ),
    );
    // morgan 1.12 writes each backslash of the kept part twice.
    for (const line of lines) assert.equal(line.length, escapes ? 2_636 : 2_381);
    // For ordinary request values, the request part is exactly what morgan's own `combined` prints.
    assert.deepEqual(
      lines.map((line) => line.split(' verify=')[0]!.replace(CLF_DATE, '[DATE]')),
      plain.text().trimEnd().split('\n').map((line) => line.replace(CLF_DATE, '[DATE]')),
    );

    const records = json.text().trimEnd().split('\n');
    assert.equal(records.length, 3);
    for (const line of records) {
      const record = JSON.parse(line) as Record<string, unknown>;
      assert.equal(record.peer_cert_subject, subject);
      assert.equal(record.peer_cert_issuer, 'CN=mtls-observability development CA');
      assert.equal(record.peer_cert_spiffe, `spiffe://example.org/${'p'.repeat(1003)}${TRUNCATION_MARKER}`);
      assert.equal(record.peer_cert_serial, LARGE_SERIAL);
      // Fixed but for the response time's digits.
      assert.equal(line.replace(/"response_time_ms":[\d.]+/, '"response_time_ms":0').length, 2_842);
    }

    assert.equal(
      tokens.text(),
      `subject="${printed}" spiffe=${spiffe} serial=${LARGE_SERIAL}\n`.repeat(3),
    );
  });

  test(`morgan ${version}: invisible characters and line breaks from the client never reach mtls-combined or mtls-json raw`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const combined = logSink();
    const json = logSink();
    const app = express();
    app.use(morgan('mtls-combined', { stream: combined.stream }));
    app.use(morgan('mtls-json', { stream: json.stream }));
    app.use(mtlsIdentity({ tracing: false, metrics: false }));
    app.use((_req, res) => {
      res.send('ok');
    });
    const server = await startHttpsServer(app);
    // A Basic-auth user name that forges a second line (`:remote-user`), and raw bytes Node's own
    // client refuses to send: NEL (0x85) and a soft hyphen (0xAD) in the user agent, a C1 control
    // in the referrer (header bytes are read as Latin-1), a quote and a backslash in the URL.
    const user = 'eve\n127.0.0.1 - admin [x] "GET /admin HTTP/1.1" 200 0\u061c\u2028\u{e0041}';
    const request = Buffer.concat([
      Buffer.from(
        'GET /p"q\\r HTTP/1.1\r\nHost: localhost\r\n' +
          `Authorization: Basic ${Buffer.from(`${user}:pw`, 'utf8').toString('base64')}\r\n`,
        'latin1',
      ),
      Buffer.from('User-Agent: ua\x85x\xad"y\r\nReferer: ref\x9f\r\nConnection: close\r\n\r\n', 'latin1'),
    ]);
    try {
      const response = await rawTlsRequest(server.port, invisible, request);
      assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await server.close();
    }
    const certificate = parseCertificate(invisible.der);
    const subject =
      'CN=inv\\D8\\9C\\C2\\AD\\E2\\81\\A0\\E2\\81\\A1\\E2\\81\\A2\\E2\\81\\A3\\E2\\81\\A4\\EF\\BF\\B9\\EF\\BF\\BA\\EF\\BF\\BB' +
      '\\F3\\A0\\81\\81\\F3\\A0\\81\\BFend,O=mtls-observability demo';
    // The same on both versions: morgan 1.12's escapes, and `\uXXXX` for what it leaves raw.
    const requestPart =
      '127.0.0.1 - eve\\n127.0.0.1 - admin [x] \\"GET /admin HTTP/1.1\\" 200 0\\u061c\\u2028\\udb40\\udc41 [DATE]' +
      ' "GET /p\\"q\\\\r HTTP/1.1" 200 2 "ref\\u009f" "ua\\u0085x\\u00ad\\"y"';
    const text = combined.text();
    assert.equal(
      text.replace(CLF_DATE, '[DATE]'),
      `${requestPart} verify=SUCCESS subject="${escapes ? morgan112Escape(subject) : subject}"` +
        ` issuer="CN=mtls-observability development CA" serial=${certificate.serialNumber}` +
        ` not_after=${certificate.notAfter.toISOString()} spiffe=- fingerprint=${certificate.fingerprint256}\n`,
    );
    assert.ok(!/[\u0085\u009f\u00ad\u061c\u2028\u2060-\u2064\ufff9-\ufffb]|\udb40/.test(text));

    const line = json.text();
    assert.equal(line.split('\n').length, 2);
    assert.ok(!/[\u0085\u009f\u00ad\u061c\u2028\u2060-\u2064\ufff9-\ufffb]|\udb40/.test(line));
    for (const member of [
      '"url":"/p\\"q\\\\r"',
      '"referrer":"ref\\u009f"',
      '"user_agent":"ua\\u0085x\\u00ad\\"y"',
      `"peer_cert_subject":${JSON.stringify(subject)}`,
    ]) {
      assert.ok(line.includes(member), `${member} in ${line}`);
    }
    const record = JSON.parse(line) as Record<string, unknown>;
    assert.equal(record.user_agent, 'ua\x85x\xad"y');
    assert.equal(record.peer_cert_subject, subject);
  });
}

test('tokens stay log-safe whatever produced the identity (defence in depth)', () => {
  const morgan = registerMorganTokens(freshMorgan('morgan110'));
  const tokens = morgan as unknown as Record<string, (req: unknown, res: unknown) => string | undefined>;
  const certificate = {
    ...parseCertificate(pki.clients.valid.der),
    // Not what parseCertificate produces: raw control and separator characters.
    subject: 'CN=a\nb\u2028c\u202ed\u00ad\u{e0041}',
    spiffeId: 'spiffe://x/\u00e9 "y"\u061c',
  };
  const req = {};
  attachPeerIdentity(req as never, { verified: false, verify: 'FAILED:bad "reason"\n', reason: 'x', source: 'test' as IdentitySourceName, certificate });
  assert.equal(tokens.peer_cert_subject!(req, {}), 'CN=a\\0Ab\\E2\\80\\A8c\\E2\\80\\AEd\\C2\\AD\\F3\\A0\\81\\81');
  assert.equal(tokens.peer_cert_spiffe!(req, {}), 'spiffe://x/%C3%A9%20%22y%22%D8%9C');
  assert.equal(tokens.peer_cert_verify!(req, {}), 'FAILED:bad%20%22reason%22%0A');
  assert.equal(tokens.peer_cert_serial!(req, {}), certificate.serialNumber);
});

test('a morgan without compile() gets mtls-combined as its format string', () => {
  const registered = new Map<string, unknown>();
  const morganLike = Object.assign(() => undefined, {
    token: (tokenName: string, fn: unknown) => registered.set(tokenName, fn),
    format: (formatName: string, format: unknown) => registered.set(formatName, format),
  });
  registerMorganTokens(morganLike);
  assert.equal(registered.get('mtls-combined'), MTLS_COMBINED_FORMAT);
  assert.equal(typeof registered.get('peer_cert_subject'), 'function');
});

test('registerMorganTokens refuses anything but morgan, and bad options', () => {
  const message =
    'registerMorganTokens(): the first argument must be the morgan module (import morgan from "morgan"; registerMorganTokens(morgan)).';
  assert.throws(() => registerMorganTokens(undefined as unknown as MorganLike), { name: 'TypeError', message });
  assert.throws(() => registerMorganTokens({ token() {}, format() {} }), { name: 'TypeError', message });
  assert.throws(() => registerMorganTokens(freshMorgan('morgan'), { formats: 'yes' } as never), {
    name: 'TypeError',
    message: 'registerMorganTokens(): option "formats" must be a boolean, got "yes".',
  });
  assert.throws(() => registerMorganTokens(freshMorgan('morgan'), { prefix: 'x' } as never), {
    name: 'TypeError',
    message: 'registerMorganTokens(): unknown option "prefix". Known options: formats.',
  });
});

test('the README token and format tables match what registerMorganTokens registers', async () => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('## morgan tokens')[1]!.split('\n## ')[0]!;
  const tokens = [...section.matchAll(/^\| `:(\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...tokens].sort(), [...MORGAN_TOKEN_NAMES].sort());
  assert.ok(section.includes(`| \`mtls-combined\` | \`${MTLS_COMBINED_FORMAT}\` |`));
});
