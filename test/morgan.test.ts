import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import express from 'express';
import type morganType from 'morgan';
import { parseCertificate } from '../lib/certificate.js';
import { mtlsIdentity } from '../lib/middleware.js';
import { attachPeerIdentity } from '../lib/peer-identity.js';
import {
  registerMorganTokens,
  MORGAN_TOKEN_NAMES,
  MTLS_COMBINED_FORMAT,
  type MorganFormatFunction,
  type MorganLike,
} from '../lib/morgan.js';
import type { DevCertificate, DevCertificateSet } from '../lib/dev-certs.js';
import { HOSTILE_COMMON_NAME } from '../lib/dev-certs.js';
import type { PeerCertificate, PeerIdentity } from '../lib/types.js';
import { getTestPki } from './helpers/pki.js';
import { httpsRequest, startHttpsServer } from './helpers/https.js';

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

before(async () => {
  pki = await getTestPki();
  oddSpiffe = await pki.ca.issue({ subject: 'odd-spiffe', san: { uri: [ODD_SPIFFE_ID] } });
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
      { verified: false, verify: 'FAILED:bad "reason"\n', reason: 'x', source: 'test' },
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
    assert.ok((records[0]!.peer_cert_subject as string).includes(`mallory\\"\\0A127.0.0.1`));
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
    assert.equal(JSON.parse(text).user_agent, 'a\x85b\x9fc');
  });

  test(`morgan ${version}: URI and verify values are percent-encoded where a URI does not allow the character`, async () => {
    const morgan = registerMorganTokens(freshMorgan(name));
    const text = await logRequests(morgan, 'spiffe=:peer_cert_spiffe subject=":peer_cert_subject"', [
      { path: '/', client: oddSpiffe },
    ]);
    assert.equal(text, 'spiffe=spiffe://example.org/ns/a%22b%20c%5Cd%0A%3Ce%3E subject="CN=odd-spiffe"\n');
    const json = await logRequests(morgan, 'mtls-json', [{ path: '/', client: oddSpiffe }]);
    assert.equal(JSON.parse(json).peer_cert_spiffe, ODD_SPIFFE_ID);
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
}

test('tokens stay log-safe whatever produced the identity (defence in depth)', () => {
  const morgan = registerMorganTokens(freshMorgan('morgan110'));
  const tokens = morgan as unknown as Record<string, (req: unknown, res: unknown) => string | undefined>;
  const certificate = {
    ...parseCertificate(pki.clients.valid.der),
    // Not what parseCertificate produces: raw control and separator characters.
    subject: 'CN=a\nb\u2028c\u202ed',
    spiffeId: 'spiffe://x/\u00e9 "y"',
  };
  const req = {};
  attachPeerIdentity(req as never, { verified: false, verify: 'FAILED:bad "reason"\n', reason: 'x', source: 'test', certificate });
  assert.equal(tokens.peer_cert_subject!(req, {}), 'CN=a\\0Ab\\E2\\80\\A8c\\E2\\80\\AEd');
  assert.equal(tokens.peer_cert_spiffe!(req, {}), 'spiffe://x/%C3%A9%20%22y%22');
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
  assert.throws(() => registerMorganTokens({ token() {}, format() {} } as MorganLike), { name: 'TypeError', message });
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
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split('## morgan tokens')[1]!.split('\n## ')[0]!;
  const tokens = [...section.matchAll(/^\| `:(\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...tokens].sort(), [...MORGAN_TOKEN_NAMES].sort());
  assert.ok(section.includes(`| \`mtls-combined\` | \`${MTLS_COMBINED_FORMAT}\` |`));
});
