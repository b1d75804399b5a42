/**
 * Expected identities: pattern validation at factory time (exact messages), SPIFFE ID matching by
 * segment on real certificates, observe vs enforce through real HTTPS servers (status, body,
 * headers, morgan line, counters via the real metrics SDK, the exact report line), and the bound
 * of the report window.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import express from 'express';
import morgan from 'morgan';
import { mtlsIdentity, type MtlsIdentityOptions } from '../../lib/middleware.js';
import {
  compileExpectedIdentities,
  MAX_REMEMBERED_REPORTS,
  UnexpectedReports,
  type ExpectedIdentitiesOptions,
} from '../../lib/identity/expected-identities.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { verifiedIdentity, failedIdentity } from '../../lib/identity/peer-identity.js';
import { registerMorganTokens } from '../../lib/outputs/morgan.js';
import { clfDate } from '../../lib/internal/log-date.js';
import type { IdentityAuditEvent } from '../../lib/identity/seen-identities.js';
import type { DevCertificate, DevCertificateSet, NameInput } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, keepAliveAgent, startHttpsServer } from '../helpers/https.js';
import { createTestMeter } from '../helpers/metric-reader.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
  registerMorganTokens(morgan);
});

function subject(cn: string, o = 'Example'): NameInput {
  return [
    { type: 'O', value: o },
    { type: 'CN', value: cn },
  ];
}

function issue(cn: string, options: { uri?: string[]; serial?: bigint; o?: string } = {}): Promise<DevCertificate> {
  return pki.ca.issue({
    subject: subject(cn, options.o),
    ...(options.serial === undefined ? {} : { serialNumber: options.serial }),
    ...(options.uri === undefined ? {} : { san: { uri: options.uri } }),
    notAfter: new Date('2030-01-01T00:00:00Z'),
  });
}

const checkOf = (options: Omit<ExpectedIdentitiesOptions, 'mode'>) =>
  compileExpectedIdentities('mtlsIdentity()', 'expected', { mode: 'observe', ...options });

const identityOf = (cert: DevCertificate) => verifiedIdentity('tls', parseCertificate(cert.der));

describe('pattern validation (factory time)', () => {
  const cases: [Partial<ExpectedIdentitiesOptions> | Record<string, unknown>, string][] = [
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/a', 'spiffe://example.org/b', 'spiffe://example.org//c'] },
      'mtlsIdentity(): option "expected.spiffeIds[2]" must be a SPIFFE ID pattern, got "spiffe://example.org//c": the path has an empty segment ("//").',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/prod/'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/ns/prod/": it ends with "/".',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/../admin'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/ns/../admin": the path has a ".." segment.',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/./a'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/./a": the path has a "." segment.',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/sa/bil%6Cing'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/sa/bil%6Cing": the segment "bil%6Cing" may hold only letters, digits, ".", "-" and "_" (no percent-encoding, query or fragment).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/sa/a?x=1'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/sa/a?x=1": the segment "a?x=1" may hold only letters, digits, ".", "-" and "_" (no percent-encoding, query or fragment).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/sa/a#frag'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/sa/a#frag": the segment "a#frag" may hold only letters, digits, ".", "-" and "_" (no percent-encoding, query or fragment).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://Example.org/a'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://Example.org/a": the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (no port, user info or wildcard).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://*.example.org/a'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://*.example.org/a": the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (no port, user info or wildcard).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org:8443/a'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org:8443/a": the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (no port, user info or wildcard).',
    ],
    [
      { mode: 'observe', spiffeIds: ['SPIFFE://example.org/a'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "SPIFFE://example.org/a": it does not start with "spiffe://" (lowercase).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe:///a'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe:///a": the trust domain is empty.',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/prod-*'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/ns/prod-*": the segment "prod-*" mixes "*" with other characters (a wildcard is a whole segment).',
    ],
    [
      { mode: 'observe', spiffeIds: ['spiffe://example.org/**/admin'] },
      'mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/**/admin": "**" may only be the last segment.',
    ],
    [
      { mode: 'observe', spiffeIds: [`spiffe://example.org/${'a'.repeat(2030)}`] },
      `mtlsIdentity(): option "expected.spiffeIds[0]" must be a SPIFFE ID pattern, got "spiffe://example.org/${'a'.repeat(39)}...": it is longer than 2048 bytes.`,
    ],
    [
      { mode: 'observe', subjects: ['CN=billing,O=Example', 'CN=billing,O'] },
      'mtlsIdentity(): option "expected.subjects[1]" must be an RFC 4514 distinguished name, got "CN=billing,O": "O" has no "=".',
    ],
    [
      { mode: 'observe', subjects: ['Common=billing'] },
      'mtlsIdentity(): option "expected.subjects[0]" must be an RFC 4514 distinguished name, got "Common=billing": the attribute type "Common" is not a known short name (in its exact case where two differ only in case) or a dotted OID.',
    ],
    [
      { mode: 'observe', subjects: ['CN=a"b'] },
      'mtlsIdentity(): option "expected.subjects[0]" must be an RFC 4514 distinguished name, got "CN=a\\"b": in the value of CN, the character "\\"" must be escaped with a backslash.',
    ],
    [
      { mode: 'observe', issuers: [''] },
      'mtlsIdentity(): option "expected.issuers[0]" must be an RFC 4514 distinguished name, got "": it is empty.',
    ],
    [
      { mode: 'observe', issuers: ['1.2.3.4=abc'] },
      'mtlsIdentity(): option "expected.issuers[0]" must be an RFC 4514 distinguished name, got "1.2.3.4=abc": 1.2.3.4 has no short name, so certificates show its value as #<hex of its DER>; write it that way.',
    ],
    [{ spiffeIds: ['spiffe://example.org/a'] }, `mtlsIdentity(): option "expected.mode" is required with "expected": 'observe' (count and report) or 'enforce' (also refuse with 403).`],
    [{ mode: 'audit' }, 'mtlsIdentity(): option "expected.mode" must be one of "observe", "enforce", got "audit".'],
    [{ mode: 'observe', spiffeIds: [] }, 'mtlsIdentity(): option "expected.spiffeIds" must be a non-empty array of strings, got an array of length 0.'],
    [{ mode: 'observe', subjects: 'CN=a' }, 'mtlsIdentity(): option "expected.subjects" must be a non-empty array of strings, got "CN=a".'],
    [{ mode: 'observe', reportWindowSeconds: 0 }, 'mtlsIdentity(): option "expected.reportWindowSeconds" must be an integer from 1 to 604800, got 0.'],
    [
      { mode: 'observe', issuers: [{ fingerprint256: 'AB' }] },
      'mtlsIdentity(): option "expected.issuers" must be a non-empty array of strings, got an array of length 1.',
    ],
    [
      { mode: 'observe', regex: '.*' },
      'mtlsIdentity(): unknown option "expected.regex". Known options of "expected": mode, spiffeIds, subjects, issuers, reportWindowSeconds.',
    ],
    [
      { mode: 'enforce', subjects: ['CN=a'] },
      'mtlsIdentity(): option "expected.mode" is "enforce", which needs "require: true": without it a client with no certificate passes where an unexpected verified one is refused. Set require: true, or use mode "observe".',
    ],
  ];
  for (const [expected, message] of cases) {
    test(message.slice(0, 120), () => {
      assert.throws(() => mtlsIdentity({ expected: expected as ExpectedIdentitiesOptions }), { name: 'TypeError', message });
    });
  }

  test('accepted patterns: exact, "*" segments, a trailing "**", the trust domain alone, enforce with require', () => {
    mtlsIdentity({
      require: true,
      expected: {
        mode: 'enforce',
        spiffeIds: ['spiffe://example.org', 'spiffe://example.org/ns/*/sa/billing', 'spiffe://example.org/ns/prod/**', 'spiffe://a-b_c.d/*'],
        subjects: ['cn=billing, o=Example', '2.5.4.3=x', 'CN=a\\2Cb', 'CN=#0C0161'],
        issuers: ['CN=mtls-observability development CA'],
      },
    });
  });
});

describe('SPIFFE ID matching by segment (real certificates)', () => {
  test('"*" is one whole segment, "**" one or more; exact otherwise; the certificate ID must itself be valid', async () => {
    const check = checkOf({ spiffeIds: ['spiffe://example.org/ns/prod/*', 'spiffe://example.org/team/**', 'spiffe://example.org/exact'] });
    const cases: [string[], string | undefined][] = [
      [['spiffe://example.org/ns/prod/billing'], undefined],
      [['spiffe://example.org/ns/prod/billing/extra'], 'spiffe_id'],
      [['spiffe://example.org/ns/prod'], 'spiffe_id'],
      [['spiffe://example.org/team/a'], undefined],
      [['spiffe://example.org/team/a/b/c'], undefined],
      [['spiffe://example.org/team'], 'spiffe_id'],
      [['spiffe://example.org/exact'], undefined],
      [['spiffe://example.org/exact/more'], 'spiffe_id'],
      [['spiffe://example.org/Exact'], 'spiffe_id'],
      // Trailing slash, percent-encoding and an uppercase trust domain make the ID invalid: never a match.
      [['spiffe://example.org/exact/'], 'spiffe_id'],
      [['spiffe://example.org/ns/prod/bil%6Cing'], 'spiffe_id'],
      [['spiffe://EXAMPLE.org/exact'], 'spiffe_id'],
      [['spiffe://example.org/ns/prod/..'], 'spiffe_id'],
      [['spiffe://other.org/exact'], 'spiffe_id'],
      [['spiffe://example.org.evil.com/exact'], 'spiffe_id'],
      // Two SPIFFE IDs: the certificate has none (spiffeId is unset), so it cannot match.
      [['spiffe://example.org/exact', 'spiffe://example.org/team/a'], 'spiffe_id'],
      [[], 'spiffe_id'],
    ];
    for (const [uris, reason] of cases) {
      const cert = await issue('svc', uris.length === 0 ? {} : { uri: uris });
      assert.equal(check.check(identityOf(cert)), reason, uris.join(' '));
    }
  });

  test('subjects and issuers: the pattern is written the way the certificate layer renders names', async () => {
    const comma = await issue('billing', { o: 'Example, Inc' });
    const plain = await issue('billing');
    const check = checkOf({ subjects: ['cn=billing, o=Example\\2C Inc', '2.5.4.3=billing,O=Example'] });
    assert.equal(check.check(identityOf(comma)), undefined);
    assert.equal(check.check(identityOf(plain)), undefined);
    assert.equal(check.check(identityOf(await issue('billing', { o: 'example' }))), 'subject');
    assert.equal(check.check(identityOf(await issue('billing2'))), 'subject');
    const intermediate = await pki.ca.issueIntermediate({ subject: 'Example Intermediate CA' });
    const viaIntermediate = await intermediate.issue({ subject: subject('billing') });
    const byIssuer = checkOf({ issuers: ['CN=mtls-observability development CA'], subjects: ['CN=nobody'] });
    assert.equal(byIssuer.check(identityOf(viaIntermediate)), 'issuer', 'issuer is checked first');
    assert.equal(byIssuer.check(identityOf(plain)), 'subject');
    assert.equal(checkOf({ issuers: ['CN=Example Intermediate CA'] }).check(identityOf(viaIntermediate)), undefined);
  });

  test('only verified identities are checked; a verified identity without a certificate is no_certificate', () => {
    const check = checkOf({ subjects: ['CN=a'] });
    assert.equal(check.check(failedIdentity('tls', 'CERT_HAS_EXPIRED', parseCertificate(pki.clients.expired.der))), undefined);
    assert.equal(check.check(verifiedIdentity('envoy-xfcc')), 'no_certificate');
  });
});

/** Express with morgan, the middleware and a route. */
async function startApp(options: MtlsIdentityOptions) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      callback();
    },
  });
  const app = express();
  app.use(morgan(':peer_cert_verify :status :res[content-length]', { stream }));
  app.use(mtlsIdentity(options));
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  const server = await startHttpsServer(app);
  return { ...server, morganLines: lines };
}

describe('observe and enforce on a real HTTPS server', () => {
  const policy = { spiffeIds: ['spiffe://example.org/ns/prod/*'] };

  for (const mode of ['observe', 'enforce'] as const) {
    test(`${mode}: the unexpected client is counted and reported once; ${mode === 'enforce' ? '403 ERR_MTLS_CLIENT_NOT_ALLOWED' : 'the request goes on'}`, async () => {
      const meter = createTestMeter();
      const events: IdentityAuditEvent[] = [];
      const lines: string[] = [];
      const server = await startApp({
        tracing: false,
        require: mode === 'enforce',
        metrics: { meterProvider: meter.provider },
        expected: { mode, ...policy },
        audit: { log: (line) => lines.push(line), onEvent: (event) => events.push(event) },
      });
      const unexpected = await issue('intruder', { uri: ['spiffe://example.org/ns/dev/intruder'], serial: 0x1234n });
      const allowed = await issue('billing', { uri: ['spiffe://example.org/ns/prod/billing'], serial: 0x42n });
      const agent = keepAliveAgent(unexpected);
      try {
        const first = await httpsRequest({ port: server.port, agent });
        const second = await httpsRequest({ port: server.port, agent });
        const third = await httpsRequest({ port: server.port, client: unexpected });
        const ok = await httpsRequest({ port: server.port, client: allowed });
        for (const response of [first, second, third]) {
          if (mode === 'enforce') {
            assert.equal(response.status, 403);
            assert.equal(
              response.body,
              '{"code":"ERR_MTLS_CLIENT_NOT_ALLOWED","message":"The client identity is not allowed (spiffe_id).","verify":"SUCCESS"}',
            );
            assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
            assert.equal(response.headers['cache-control'], 'no-store');
            assert.equal(response.headers['content-length'], '117');
          } else {
            assert.equal(response.status, 200);
            assert.equal(response.body, 'ok');
          }
        }
        assert.equal(ok.status, 200);
        await new Promise((resolve) => setImmediate(resolve));
        const status = mode === 'enforce' ? '403 117' : '200 2';
        assert.deepEqual(server.morganLines, [`SUCCESS ${status}`, `SUCCESS ${status}`, `SUCCESS ${status}`, 'SUCCESS 200 2']);
        // Counted on every request, by reason and mode.
        assert.deepEqual(await meter.points('mtls.server.unexpected_identities'), [
          { attributes: { 'mtls.unexpected.reason': 'spiffe_id', 'mtls.expected.mode': mode }, value: 3 },
        ]);
        // Reported once (two connections, one certificate, one window); first-seen once per certificate.
        assert.deepEqual(
          events.map((e) => e.type),
          ['first_seen', 'unexpected', 'first_seen'],
        );
        assert.deepEqual(
          (await meter.points('mtls.server.audit_events')).sort((a, b) => String(a.attributes['mtls.audit.event']).localeCompare(String(b.attributes['mtls.audit.event']))),
          [
            { attributes: { 'mtls.audit.event': 'first_seen' }, value: 2 },
            { attributes: { 'mtls.audit.event': 'unexpected' }, value: 1 },
          ],
        );
        const report = events[1]!;
        const fingerprint = parseCertificate(unexpected.der).fingerprint256;
        assert.equal(
          lines[1],
          `127.0.0.1 - - [${clfDate(report.time)}] "mTLS client unexpected" event=unexpected reason=spiffe_id mode=${mode} source=tls` +
            ' subject=CN=intruder,O=Example issuer=CN=mtls-observability\\20development\\20CA serial=1234' +
            ` spiffe=spiffe://example.org/ns/dev/intruder not_after=2030-01-01T00:00:00.000Z fingerprint=${fingerprint}`,
        );
        assert.equal(lines.length, 3);
      } finally {
        agent.destroy();
        await server.close();
        await meter.shutdown();
      }
    });
  }

  test('unverified clients are not checked: refused by require, or passed and not counted as unexpected', async () => {
    const meter = createTestMeter();
    const server = await startApp({ tracing: false, metrics: { meterProvider: meter.provider }, expected: { mode: 'observe', ...policy } });
    try {
      assert.equal((await httpsRequest({ port: server.port, client: pki.clients.expired })).status, 200);
      assert.equal((await httpsRequest({ port: server.port })).status, 200);
      assert.deepEqual(await meter.points('mtls.server.unexpected_identities'), []);
    } finally {
      await server.close();
      await meter.shutdown();
    }
  });

  test('an attacker with many valid unexpected certificates: each reported once, the record stays bounded', async () => {
    const meter = createTestMeter();
    const events: IdentityAuditEvent[] = [];
    const { IdentityRecord } = await import('../../lib/identity/seen-identities.js');
    const record = new IdentityRecord({ maxEntries: 5 });
    const server = await startApp({
      tracing: false,
      metrics: { meterProvider: meter.provider },
      expected: { mode: 'observe', ...policy },
      audit: { record, onEvent: (event) => events.push(event) },
    });
    try {
      const { keyPair } = pki.clients.valid;
      const certs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => pki.ca.issue({ subject: subject(`attacker-${i}`), keyPair, san: { uri: [`spiffe://example.org/x/${i}`] } })),
      );
      for (const client of certs) await httpsRequest({ port: server.port, client });
      // Once more, the first one: still within its report window, but long forgotten by the record.
      await httpsRequest({ port: server.port, client: certs[0]! });
      assert.equal(record.size, 5);
      assert.deepEqual(
        record.snapshot().map((s) => s.subject),
        ['CN=attacker-0,O=Example', 'CN=attacker-19,O=Example', 'CN=attacker-18,O=Example', 'CN=attacker-17,O=Example', 'CN=attacker-16,O=Example'],
      );
      assert.equal(events.filter((e) => e.type === 'unexpected').length, 20);
      assert.equal(events.filter((e) => e.type === 'first_seen').length, 21);
      assert.deepEqual(await meter.points('mtls.server.unexpected_identities'), [
        { attributes: { 'mtls.unexpected.reason': 'spiffe_id', 'mtls.expected.mode': 'observe' }, value: 21 },
      ]);
    } finally {
      await server.close();
      await meter.shutdown();
    }
  });
});

describe('UnexpectedReports (the report window)', () => {
  test('once per certificate per window; past the bound the oldest report is forgotten', () => {
    const reports = new UnexpectedReports(60_000);
    assert.equal(reports.due('A', 0), true);
    assert.equal(reports.due('A', 59_999), false);
    assert.equal(reports.due('A', 60_000), true);
    for (let i = 0; i < MAX_REMEMBERED_REPORTS; i++) assert.equal(reports.due(`F${i}`, 60_001), true);
    // 'A' was the oldest report: forgotten, so due again; F1 was still remembered.
    assert.equal(reports.due('A', 60_002), true);
    assert.equal(reports.due(`F${MAX_REMEMBERED_REPORTS - 1}`, 60_003), false);
    assert.equal(MAX_REMEMBERED_REPORTS, 1000);
  });
});
