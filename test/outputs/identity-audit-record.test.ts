/**
 * The identity audit events as OpenTelemetry log records, through real HTTPS servers with real
 * client certificates and the real logs SDK: first-seen, rotation and unexpected records exported
 * over OTLP/HTTP (exact fields), one record per certificate however many requests, `audit.logs:
 * false` and the global-provider default, a throwing provider, log safety of hostile and long
 * names, and the option checks.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logs } from '@opentelemetry/api-logs';
import { LoggerProvider, SimpleLogRecordProcessor, BatchLogRecordProcessor, InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { mtlsIdentity, type MtlsIdentityOptions } from '../../lib/middleware.js';
import { identityAuditRecord } from '../../lib/outputs/identity-audit-record.js';
import { auditEvent, type IdentityAuditEvent } from '../../lib/identity/seen-identities.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { TRUNCATION_MARKER, MAX_LOG_FIELD_LENGTH } from '../../lib/internal/log-safe.js';
import { libraryVersion } from '../../lib/outputs/otel-api.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki, issueExampleClient } from '../helpers/pki.js';
import { httpsRequest, keepAliveAgent, startHttpsServer } from '../helpers/https.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

let pki: DevCertificateSet;
let receiver: OtlpReceiver;

before(async () => {
  pki = await getTestPki();
  receiver = await startOtlpReceiver();
});

after(async () => {
  await receiver?.close();
});

const ISSUER = 'CN=mtls-observability development CA';

const client = issueExampleClient;

async function startServer(options: MtlsIdentityOptions) {
  const mw = mtlsIdentity({ tracing: false, metrics: false, ...options });
  return startHttpsServer((req: IncomingMessage, res: ServerResponse) => mw(req, res, () => res.end('ok')));
}

const fingerprintOf = (cert: DevCertificate) => parseCertificate(cert.der).fingerprint256;
const nanos = (time: Date) => String(BigInt(time.getTime()) * 1_000_000n);

test('first-seen, rotation and unexpected (observe) reach a collector as OTLP log records with exact fields', async () => {
  const loggerProvider = new LoggerProvider({
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${receiver.url}/v1/logs` }) })],
  });
  const events: IdentityAuditEvent[] = [];
  const server = await startServer({
    expected: { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/prod/**'] },
    audit: { logs: { loggerProvider }, onEvent: (event) => events.push(event) },
  });
  const billingUri = 'spiffe://example.org/ns/prod/sa/billing';
  const old = await client('billing', 0x0an, billingUri);
  const rotated = await client('billing', 0x0bn, billingUri);
  const deployerUri = 'spiffe://example.org/ns/ci/sa/deployer';
  const deployer = await client('deployer', 0x0d01n, deployerUri);
  try {
    const statuses: number[] = [];
    for (const cert of [old, old, rotated, deployer]) statuses.push((await httpsRequest({ port: server.port, client: cert })).status);
    // Observe mode: the unexpected client is served.
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    await loggerProvider.forceFlush();
    await receiver.waitFor(() => receiver.logRecords.length === 4, 'four log records');
    assert.deepEqual(receiver.rejected, []);
    assert.deepEqual(
      events.map((e) => e.type),
      ['first_seen', 'rotation', 'first_seen', 'unexpected'],
    );
    const common = { scope: 'mtls-observability', scopeVersion: libraryVersion() };
    const certificate = (cert: DevCertificate, cn: string, serial: string, uri: string) => ({
      'tls.client.subject': `CN=${cn},O=Example`,
      'tls.client.issuer': ISSUER,
      'tls.client.hash.sha256': fingerprintOf(cert),
      'tls.client.not_after': '2030-01-01T00:00:00.000Z',
      'mtls.client.serial_number': serial,
      'mtls.client.spiffe_id': uri,
      'mtls.client.source': 'tls',
      'client.address': '127.0.0.1',
    });
    assert.deepEqual(receiver.logRecords, [
      {
        ...common,
        eventName: 'mtls.identity.first_seen',
        severityNumber: 9,
        severityText: 'INFO',
        body: 'mTLS client first seen',
        timeUnixNano: nanos(events[0]!.time),
        attributes: certificate(old, 'billing', '0A', billingUri),
      },
      {
        ...common,
        eventName: 'mtls.identity.rotation',
        severityNumber: 9,
        severityText: 'INFO',
        body: 'mTLS client rotation',
        timeUnixNano: nanos(events[1]!.time),
        attributes: {
          ...certificate(rotated, 'billing', '0B', billingUri),
          'mtls.rotation.by': 'spiffe_id',
          'mtls.rotation.previous.serial_number': '0A',
          'mtls.rotation.previous.hash.sha256': fingerprintOf(old),
        },
      },
      {
        ...common,
        eventName: 'mtls.identity.first_seen',
        severityNumber: 9,
        severityText: 'INFO',
        body: 'mTLS client first seen',
        timeUnixNano: nanos(events[2]!.time),
        attributes: certificate(deployer, 'deployer', '0D01', deployerUri),
      },
      {
        ...common,
        eventName: 'mtls.identity.unexpected',
        severityNumber: 13,
        severityText: 'WARN',
        body: 'mTLS client unexpected: spiffe_id',
        timeUnixNano: nanos(events[3]!.time),
        attributes: {
          ...certificate(deployer, 'deployer', '0D01', deployerUri),
          'mtls.unexpected.reason': 'spiffe_id',
          'mtls.expected.mode': 'observe',
        },
      },
    ]);
  } finally {
    await server.close();
    await loggerProvider.shutdown();
    receiver.logRecords.length = 0;
  }
});

test('a rotation by subject (new SPIFFE ID, same subject) and one record per certificate, however many requests', async () => {
  const exporter = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const server = await startServer({ audit: { logs: { loggerProvider } } });
  const v1 = await client('ledger', 0x21n, 'spiffe://example.org/ns/prod/sa/ledger-v1');
  const v2 = await client('ledger', 0x22n, 'spiffe://example.org/ns/prod/sa/ledger-v2');
  const agent = keepAliveAgent(v1);
  try {
    for (let i = 0; i < 5; i++) await httpsRequest({ port: server.port, agent });
    // A new connection with the same certificate: known, no record.
    await httpsRequest({ port: server.port, client: v1 });
    await httpsRequest({ port: server.port, client: v2 });
    const records = exporter.getFinishedLogRecords();
    assert.deepEqual(
      records.map((r) => [r.eventName, r.severityText, r.attributes['mtls.client.serial_number'], r.attributes['mtls.rotation.by']]),
      [
        ['mtls.identity.first_seen', 'INFO', '21', undefined],
        ['mtls.identity.rotation', 'INFO', '22', 'subject'],
      ],
    );
    assert.equal(records[1]!.attributes['mtls.rotation.previous.serial_number'], '21');
    assert.equal(records[1]!.attributes['mtls.rotation.previous.hash.sha256'], fingerprintOf(v1));
  } finally {
    agent.destroy();
    await server.close();
    await loggerProvider.shutdown();
  }
});

test('the default is the global LoggerProvider; audit.logs: false emits nothing, the line is still written', async () => {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const lines: string[] = [];
  // Both built before the SDK is registered: the provider is looked up when a record is emitted.
  const on = await startServer({ audit: {} });
  const off = await startServer({ audit: { logs: false, log: (line) => lines.push(line) } });
  logs.setGlobalLoggerProvider(provider);
  try {
    const a = await client('global-a', 0x31n, 'spiffe://example.org/ns/prod/sa/global-a');
    const b = await client('global-b', 0x32n, 'spiffe://example.org/ns/prod/sa/global-b');
    assert.equal((await httpsRequest({ port: on.port, client: a })).status, 200);
    assert.equal((await httpsRequest({ port: off.port, client: b })).status, 200);
    assert.deepEqual(
      exporter.getFinishedLogRecords().map((r) => [r.eventName, r.severityNumber, r.attributes['tls.client.subject'], r.instrumentationScope.name]),
      [['mtls.identity.first_seen', 9, 'CN=global-a,O=Example', 'mtls-observability']],
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /"mTLS client first seen" event=first_seen source=tls subject=CN=global-b,O=Example /);
  } finally {
    logs.disable();
    await on.close();
    await off.close();
    await provider.shutdown();
  }
});

test('a provider that throws never breaks the request, the line or onEvent', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  process.on('warning', onWarning);
  const lines: string[] = [];
  const events: string[] = [];
  const throwingEmit = await startServer({
    audit: {
      log: (line) => lines.push(line),
      onEvent: (event) => events.push(event.type),
      logs: {
        loggerProvider: {
          getLogger: () => ({
            emit: () => {
              throw new Error('exporter down');
            },
          }),
        },
      },
    },
  });
  const throwingGetLogger = await startServer({
    expected: { mode: 'observe', subjects: ['CN=nobody'] },
    audit: {
      onEvent: (event) => events.push(event.type),
      logs: {
        loggerProvider: {
          getLogger: () => {
            throw new Error('no logger');
          },
        },
      },
    },
  });
  try {
    const cert = await client('fragile', 0x41n, 'spiffe://example.org/ns/prod/sa/fragile');
    assert.equal((await httpsRequest({ port: throwingEmit.port, client: cert })).status, 200);
    assert.equal((await httpsRequest({ port: throwingGetLogger.port, client: cert })).status, 200);
    assert.equal((await httpsRequest({ port: throwingGetLogger.port, client: cert })).status, 200);
    assert.equal(lines.length, 1);
    assert.deepEqual(events, ['first_seen', 'first_seen', 'unexpected']);
    await new Promise((resolve) => setImmediate(resolve));
    // The emitter swallows provider failures: no warning, nothing reaches the request.
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
    await throwingEmit.close();
    await throwingGetLogger.close();
  }
});

test('log safety: a hostile subject stays escaped, a long one is cut with the marker, a bidi control is escaped', async () => {
  const hostile = parseCertificate(pki.clients.hostile.der);
  const record = identityAuditRecord(auditEvent('first_seen', 'tls', hostile, new Date(0), { remoteAddress: '127.0.0.1' }));
  assert.equal(record.attributes['tls.client.subject'], hostile.subject);
  assert.ok(!/[\n\r]/.test(String(record.attributes['tls.client.subject'])));
  const long = parseCertificate(
    (await pki.ca.issue({ subject: `evil\u202Egnp.exe${'x'.repeat(2000)}`, san: { uri: [`spiffe://example.org/${'y'.repeat(2000)}`] } })).der,
  );
  const attributes = identityAuditRecord(auditEvent('unexpected', 'tls', long, new Date(0), { reason: 'subject', mode: 'enforce' })).attributes;
  const subject = String(attributes['tls.client.subject']);
  assert.ok(subject.startsWith('CN=evil\\E2\\80\\AEgnp.exe'));
  assert.ok(subject.endsWith(TRUNCATION_MARKER));
  assert.equal(subject.length, MAX_LOG_FIELD_LENGTH + TRUNCATION_MARKER.length);
  const spiffe = String(attributes['mtls.client.spiffe_id']);
  assert.ok(spiffe.endsWith(TRUNCATION_MARKER) && spiffe.length <= MAX_LOG_FIELD_LENGTH + TRUNCATION_MARKER.length);
  // No client address (the event had none): the attribute is left out, not empty.
  assert.equal('client.address' in attributes, false);
  assert.deepEqual([attributes['mtls.unexpected.reason'], attributes['mtls.expected.mode']], ['subject', 'enforce']);
});

test('options: audit.logs is validated at factory time with the full path in the message', () => {
  assert.throws(() => mtlsIdentity({ audit: { logs: true as never } }), /option "audit\.logs"/);
  assert.throws(
    () => mtlsIdentity({ audit: { logs: { loggerProvider: {} as never } } }),
    /option "audit\.logs\.loggerProvider".*getLogger/,
  );
  assert.throws(
    () => mtlsIdentity({ audit: { logs: { provider: 1 } as never } }),
    {
      name: 'TypeError',
      message: 'mtlsIdentity(): unknown option "audit.logs.provider". Known options of "audit.logs": loggerProvider.',
    },
  );
});
