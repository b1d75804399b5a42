/**
 * The record of seen identities through real HTTPS servers and real client certificates:
 * first-seen and rotation events (the exact audit lines), request counts per certificate, the
 * bound (more certificates than maxEntries), and the frozen snapshot.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mtlsIdentity, type MtlsIdentityOptions } from '../../lib/middleware.js';
import { IdentityRecord, DEFAULT_IDENTITY_RECORD_SIZE, type IdentityAuditEvent } from '../../lib/identity/seen-identities.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { clfDate } from '../../lib/internal/log-date.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki, issueExampleClient } from '../helpers/pki.js';
import { captureWarnings } from '../helpers/warnings.js';
import { httpsRequest, keepAliveAgent, startHttpsServer } from '../helpers/https.js';
import { createTestMeter } from '../helpers/metric-reader.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

function billing(serial: bigint, uri = 'spiffe://example.org/ns/prod/sa/billing', cn = 'billing'): Promise<DevCertificate> {
  return issueExampleClient(cn, serial, uri);
}

async function startServer(options: MtlsIdentityOptions) {
  const mw = mtlsIdentity({ tracing: false, ...options });
  return startHttpsServer((req: IncomingMessage, res: ServerResponse) => mw(req, res, () => res.end('ok')));
}

const fingerprintOf = (cert: DevCertificate) => parseCertificate(cert.der).fingerprint256;

describe('first-seen and rotation events', () => {
  test('text: a first-seen line, then a rotation to a new certificate with the same subject (exact lines)', async () => {
    const lines: string[] = [];
    const events: IdentityAuditEvent[] = [];
    const meter = createTestMeter();
    const server = await startServer({
      metrics: { meterProvider: meter.provider },
      audit: { log: (line) => lines.push(line), onEvent: (event) => events.push(event) },
    });
    const old = await billing(0x0an, 'spiffe://example.org/ns/prod/sa/billing-v1');
    const rotated = await billing(0x0bn, 'spiffe://example.org/ns/prod/sa/billing-v2');
    try {
      await httpsRequest({ port: server.port, client: old });
      await httpsRequest({ port: server.port, client: old });
      await httpsRequest({ port: server.port, client: rotated });
      await httpsRequest({ port: server.port, client: old });
      const issuer = 'issuer=CN=mtls-observability\\20development\\20CA';
      assert.deepEqual(lines, [
        `127.0.0.1 - - [${clfDate(events[0]!.time)}] "mTLS client first seen" event=first_seen source=tls subject=CN=billing,O=Example ${issuer}` +
          ` serial=0A spiffe=spiffe://example.org/ns/prod/sa/billing-v1 not_after=2030-01-01T00:00:00.000Z fingerprint=${fingerprintOf(old)}`,
        `127.0.0.1 - - [${clfDate(events[1]!.time)}] "mTLS client rotation" event=rotation source=tls subject=CN=billing,O=Example ${issuer}` +
          ` serial=0B spiffe=spiffe://example.org/ns/prod/sa/billing-v2 not_after=2030-01-01T00:00:00.000Z fingerprint=${fingerprintOf(rotated)}` +
          ` rotated_by=subject previous_serial=0A previous_fingerprint=${fingerprintOf(old)}`,
      ]);
      assert.deepEqual(await meter.points('mtls.server.audit_events'), [
        { attributes: { 'mtls.audit.event': 'first_seen' }, value: 1 },
        { attributes: { 'mtls.audit.event': 'rotation' }, value: 1 },
      ]);
      assert.deepEqual(Object.keys(events[1]!), [
        'type', 'time', 'remoteAddress', 'source', 'subject', 'issuer', 'serialNumber', 'fingerprint256', 'spiffeId', 'notAfter',
        'rotatedBy', 'previousSerialNumber', 'previousFingerprint256',
      ]);
      assert.ok(Object.isFrozen(events[0]) && Object.isFrozen(events[1]));
    } finally {
      await server.close();
      await meter.shutdown();
    }
  });

  test('json: a rotation by SPIFFE ID (the subject changed too)', async () => {
    const lines: string[] = [];
    const server = await startServer({ metrics: false, audit: { log: (line) => lines.push(line), logFormat: 'json' } });
    const old = await billing(0x0an);
    const renamed = await billing(0x0cn, 'spiffe://example.org/ns/prod/sa/billing', 'billing-2');
    try {
      await httpsRequest({ port: server.port, client: old });
      await httpsRequest({ port: server.port, client: renamed });
      const [first, rotation] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual({ ...rotation, time: 'T' }, {
        time: 'T',
        event: 'mtls_client_rotation',
        remote_addr: '127.0.0.1',
        source: 'tls',
        peer_cert_subject: 'CN=billing-2,O=Example',
        peer_cert_issuer: 'CN=mtls-observability development CA',
        peer_cert_serial: '0C',
        peer_cert_spiffe: 'spiffe://example.org/ns/prod/sa/billing',
        peer_cert_not_after: '2030-01-01T00:00:00.000Z',
        peer_cert_fingerprint: fingerprintOf(renamed),
        rotated_by: 'spiffe_id',
        previous_serial: '0A',
        previous_fingerprint: fingerprintOf(old),
      });
      assert.equal(first!.event, 'mtls_client_first_seen');
      assert.match(String(rotation!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    } finally {
      await server.close();
    }
  });

  test('unverified clients are never recorded; a certificate with the same serial again is no event', async () => {
    const events: IdentityAuditEvent[] = [];
    const record = new IdentityRecord();
    const server = await startServer({ metrics: false, audit: { record, onEvent: (e) => events.push(e) } });
    try {
      for (const client of [pki.clients.expired, pki.clients.untrusted, pki.clients.selfSigned, undefined]) {
        await httpsRequest({ port: server.port, ...(client ? { client } : {}) });
      }
      assert.equal(record.size, 0);
      await httpsRequest({ port: server.port, client: pki.clients.valid });
      await httpsRequest({ port: server.port, client: pki.clients.valid });
      assert.deepEqual(events.map((e) => e.type), ['first_seen']);
    } finally {
      await server.close();
    }
  });
});

describe('the record', () => {
  test('counts requests per certificate, across connections and on a keep-alive connection; the snapshot is frozen', async () => {
    const record = new IdentityRecord();
    const server = await startServer({ metrics: false, audit: { record } });
    const agent = keepAliveAgent(pki.clients.valid);
    try {
      const before = Date.now();
      for (let i = 0; i < 3; i++) await httpsRequest({ port: server.port, agent });
      await httpsRequest({ port: server.port, client: pki.clients.valid });
      const snapshot = record.snapshot();
      assert.equal(snapshot.length, 1);
      const [entry] = snapshot;
      const c = parseCertificate(pki.clients.valid.der);
      assert.deepEqual({ ...entry, firstSeen: 'F', lastSeen: 'L' }, {
        subject: 'CN=alice,O=mtls-observability demo',
        issuer: 'CN=mtls-observability development CA',
        serialNumber: c.serialNumber,
        fingerprint256: c.fingerprint256,
        spiffeId: 'spiffe://example.org/ns/demo/sa/alice',
        notAfter: c.notAfter.toISOString(),
        source: 'tls',
        firstSeen: 'F',
        lastSeen: 'L',
        requests: 4,
      });
      assert.ok(Date.parse(entry!.firstSeen) >= before && Date.parse(entry!.lastSeen) >= Date.parse(entry!.firstSeen));
      assert.ok(Object.isFrozen(snapshot) && Object.isFrozen(entry));
      assert.throws(() => ((snapshot as unknown as unknown[]).length = 0), TypeError);
      assert.throws(() => ((entry as { requests: number }).requests = 0), TypeError);
      // A snapshot is a copy: later requests do not change it.
      await httpsRequest({ port: server.port, agent });
      assert.equal(entry!.requests, 4);
      assert.equal(record.snapshot()[0]!.requests, 5);
    } finally {
      agent.destroy();
      await server.close();
    }
  });

  test('bounded: more certificates than maxEntries keeps the most recent; a rotation whose predecessor was forgotten is a first sighting', async () => {
    const events: IdentityAuditEvent[] = [];
    const record = new IdentityRecord({ maxEntries: 3 });
    const server = await startServer({ metrics: false, audit: { record, onEvent: (e) => events.push(e) } });
    try {
      const certs = await Promise.all(Array.from({ length: 6 }, (_, i) => billing(BigInt(100 + i), `spiffe://example.org/svc/${i}`, `svc-${i}`)));
      for (const client of certs) await httpsRequest({ port: server.port, client });
      assert.equal(record.size, 3);
      assert.deepEqual(record.snapshot().map((s) => s.serialNumber), ['69', '68', '67']);
      // svc-0 rotates, but its first certificate is no longer in the record.
      await httpsRequest({ port: server.port, client: await billing(200n, 'spiffe://example.org/svc/0', 'svc-0') });
      // svc-5 rotates while its certificate is still kept.
      await httpsRequest({ port: server.port, client: await billing(201n, 'spiffe://example.org/svc/5', 'svc-5') });
      assert.deepEqual(
        events.map((e) => `${e.type}:${e.serialNumber}${e.previousSerialNumber === undefined ? '' : `<${e.previousSerialNumber}`}`),
        ['first_seen:64', 'first_seen:65', 'first_seen:66', 'first_seen:67', 'first_seen:68', 'first_seen:69', 'first_seen:C8', 'rotation:C9<69'],
      );
      assert.deepEqual(record.snapshot().map((s) => s.serialNumber), ['C9', 'C8', '69']);
    } finally {
      await server.close();
    }
  });

  test('options: maxEntries from 1 to 100000, exclusive with audit.record', () => {
    assert.equal(new IdentityRecord().maxEntries, DEFAULT_IDENTITY_RECORD_SIZE);
    assert.equal(DEFAULT_IDENTITY_RECORD_SIZE, 1000);
    assert.throws(() => new IdentityRecord({ maxEntries: 0 }), {
      name: 'TypeError',
      message: 'new IdentityRecord(): option "maxEntries" must be an integer from 1 to 100000, got 0.',
    });
    assert.throws(() => mtlsIdentity({ audit: { record: new IdentityRecord(), maxEntries: 5 } as never }), {
      name: 'TypeError',
      message: 'mtlsIdentity(): options "audit.record" and "audit.maxEntries" exclude each other; set maxEntries on the IdentityRecord instead.',
    });
    assert.throws(() => mtlsIdentity({ audit: { record: {} as never } }), {
      name: 'TypeError',
      message: 'mtlsIdentity(): option "audit.record" must be an IdentityRecord instance, got an object.',
    });
    assert.throws(() => mtlsIdentity({ audit: { log: 'stdout' as never } }), {
      name: 'TypeError',
      message: 'mtlsIdentity(): option "audit.log" must be a writable stream (with write()) or a function receiving each line, got "stdout".',
    });
    assert.throws(() => mtlsIdentity({ audit: { logFormat: 'xml' as never } }), {
      name: 'TypeError',
      message: 'mtlsIdentity(): option "audit.logFormat" must be one of "text", "json", got "xml".',
    });
  });

  test('a throwing onEvent or log destination never breaks the request, and the count still happens', async () => {
    const meter = createTestMeter();
    const server = await startServer({
      metrics: { meterProvider: meter.provider },
      audit: {
        log: () => {
          throw new Error('disk full');
        },
        onEvent: () => {
          throw new Error('hook bug');
        },
      },
    });
    try {
      const warnings = await captureWarnings(async () => {
        const response = await httpsRequest({ port: server.port, client: pki.clients.valid });
        assert.equal(response.status, 200);
        assert.deepEqual(await meter.points('mtls.server.audit_events'), [{ attributes: { 'mtls.audit.event': 'first_seen' }, value: 1 }]);
      });
      assert.deepEqual(warnings.map((w) => [w.code, w.message]).sort(), [
        ['MTLS_OBSERVER_ERROR', 'mtlsIdentity(): option "audit.log" threw and was skipped: disk full'],
        ['MTLS_OBSERVER_ERROR', 'mtlsIdentity(): option "audit.onEvent" threw and was skipped: hook bug'],
      ]);
    } finally {
      await server.close();
      await meter.shutdown();
    }
  });
});

describe('the admin route of docs/identities.md', () => {
  test('the snapshot is served to the expected admin identity only; others get 403 ERR_MTLS_CLIENT_NOT_ALLOWED', async () => {
    const { default: express } = await import('express');
    const identities = new IdentityRecord();
    const app = express();
    app.use(mtlsIdentity({ tracing: false, metrics: false, audit: { record: identities } }));
    const admin = mtlsIdentity({
      require: true,
      tracing: false,
      expected: { mode: 'enforce', spiffeIds: ['spiffe://example.org/ns/demo/sa/alice'] },
      metrics: false,
    });
    app.get('/admin/identities', admin, (_req, res) => {
      res.set('Cache-Control', 'no-store').json(identities.snapshot());
    });
    const server = await startHttpsServer(app);
    try {
      const other = await httpsRequest({ port: server.port, path: '/admin/identities', client: pki.clients.hostile });
      assert.equal(other.status, 403);
      assert.equal((JSON.parse(other.body) as { code: string }).code, 'ERR_MTLS_CLIENT_NOT_ALLOWED');
      const none = await httpsRequest({ port: server.port, path: '/admin/identities' });
      assert.equal(none.status, 403);
      assert.equal((JSON.parse(none.body) as { code: string }).code, 'ERR_MTLS_CLIENT_CERT_REQUIRED');
      const ok = await httpsRequest({ port: server.port, path: '/admin/identities', client: pki.clients.valid });
      assert.equal(ok.status, 200);
      const body = JSON.parse(ok.body) as { subject: string; requests: number }[];
      assert.deepEqual(
        body.map((s) => [s.subject, s.requests]),
        [
          ['CN=alice,O=mtls-observability demo', 1],
          [parseCertificate(pki.clients.hostile.der).subject, 1],
        ],
      );
    } finally {
      await server.close();
    }
  });
});
