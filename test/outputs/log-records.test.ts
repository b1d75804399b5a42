import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { logs } from '@opentelemetry/api-logs';
import { LoggerProvider, SimpleLogRecordProcessor, BatchLogRecordProcessor, InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { observeTlsServer } from '../../lib/handshake/observer.js';
import { LogRecordEmitter, otelLogsApi } from '../../lib/outputs/log-records.js';
import { libraryVersion } from '../../lib/outputs/otel-api.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer } from '../helpers/https.js';
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

async function attempt(port: number, client?: DevCertificate): Promise<void> {
  try {
    await httpsRequest({ port, ...(client ? { client } : {}) });
  } catch {
    // The handshake was refused: that is what is observed.
  }
}

test('failed handshakes reach a collector as OTLP log records: event name, severity, exact attributes', async () => {
  const loggerProvider = new LoggerProvider({
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${receiver.url}/v1/logs` }) })],
  });
  const server = await startHttpsServer((_req, res) => void res.end('ok'), { pki, rejectUnauthorized: true });
  const ports: number[] = [];
  server.server.on('connection', (socket: net.Socket) => ports.push(socket.remotePort!));
  const observer = observeTlsServer(server.server, { metrics: false, logs: { loggerProvider } });
  try {
    await attempt(server.port, pki.clients.valid);
    await attempt(server.port, pki.clients.expired);
    await attempt(server.port, undefined);
    await new Promise<void>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.on('close', () => resolve()).on('error', () => undefined);
    });
    // Let the server see the last failure before flushing.
    await new Promise((r) => setTimeout(r, 50));
    await loggerProvider.forceFlush();
    await receiver.waitFor(() => receiver.logRecords.length === 3, 'three log records');
    assert.deepEqual(receiver.rejected, []);
    const records = receiver.logRecords.map(({ timeUnixNano, ...rest }) => {
      assert.match(String(timeUnixNano), /^\d{19}$/);
      return rest;
    });
    const common = { scope: 'mtls-observability', scopeVersion: libraryVersion() };
    assert.deepEqual(records, [
      {
        ...common,
        eventName: 'mtls.handshake.failure',
        severityNumber: 13,
        severityText: 'WARN',
        body: 'TLS handshake rejected: CERT_HAS_EXPIRED',
        attributes: {
          'error.type': 'CERT_HAS_EXPIRED',
          'mtls.handshake.outcome': 'rejected',
          'mtls.client.verify': 'FAILED:CERT_HAS_EXPIRED',
          'client.address': '127.0.0.1',
          'client.port': ports[1]!,
        },
      },
      {
        ...common,
        eventName: 'mtls.handshake.failure',
        severityNumber: 13,
        severityText: 'WARN',
        body: 'TLS handshake rejected: CERT_MISSING',
        attributes: {
          'error.type': 'CERT_MISSING',
          'mtls.handshake.outcome': 'rejected',
          'tls.protocol.version': '1.3',
          'mtls.client.verify': 'NONE',
          'client.address': '127.0.0.1',
          'client.port': ports[2]!,
        },
      },
      {
        ...common,
        eventName: 'mtls.handshake.failure',
        severityNumber: 5,
        severityText: 'DEBUG',
        body: 'TLS handshake failed: plain_http',
        attributes: {
          'error.type': 'plain_http',
          'mtls.handshake.outcome': 'failed',
          'client.address': '127.0.0.1',
          'client.port': ports[3]!,
        },
      },
    ]);
  } finally {
    observer.detach();
    await server.close();
    await loggerProvider.shutdown();
    receiver.logRecords.length = 0;
  }
});

test('logNoise: false leaves out noise records; logs: false emits none', async () => {
  const exporter = new InMemoryLogRecordExporter();
  const loggerProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const quiet = new InMemoryLogRecordExporter();
  const quietProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: quiet })] });
  const a = await startHttpsServer((_req, res) => void res.end('ok'), { pki, rejectUnauthorized: true });
  const b = await startHttpsServer((_req, res) => void res.end('ok'), { pki, rejectUnauthorized: true });
  const observers = [
    observeTlsServer(a.server, { metrics: false, logNoise: false, logs: { loggerProvider } }),
    observeTlsServer(b.server, { metrics: false, logs: false }),
  ];
  logs.setGlobalLoggerProvider(quietProvider);
  try {
    for (const port of [a.port, b.port]) {
      await attempt(port, pki.clients.expired);
      await new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.destroy());
        socket.on('close', () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      exporter.getFinishedLogRecords().map((r) => [r.eventName, r.severityText, r.attributes['error.type']]),
      [['mtls.handshake.failure', 'WARN', 'CERT_HAS_EXPIRED']],
    );
    assert.equal(quiet.getFinishedLogRecords().length, 0);
  } finally {
    logs.disable();
    for (const o of observers) o.detach();
    await a.close();
    await b.close();
    await loggerProvider.shutdown();
    await quietProvider.shutdown();
  }
});

test('the default is the global LoggerProvider of @opentelemetry/api-logs, looked up when emitting', async () => {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const server = await startHttpsServer((_req, res) => void res.end('ok'), { pki, rejectUnauthorized: true });
  // Observed before the SDK is registered.
  const observer = observeTlsServer(server.server, { metrics: false });
  try {
    assert.equal(otelLogsApi()?.logs, logs);
    logs.setGlobalLoggerProvider(provider);
    await attempt(server.port, pki.clients.untrusted);
    await new Promise((r) => setTimeout(r, 50));
    const records = exporter.getFinishedLogRecords();
    assert.deepEqual(
      records.map((r) => [r.eventName, r.severityNumber, r.body, r.instrumentationScope.name]),
      [['mtls.handshake.failure', 13, 'TLS handshake rejected: UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'mtls-observability']],
    );
  } finally {
    logs.disable();
    observer.detach();
    await server.close();
    await provider.shutdown();
  }
});

test('options: logs is validated at factory time with the full path in the message', async () => {
  const server = await startHttpsServer((_req, res) => void res.end('ok'), { pki });
  try {
    assert.throws(() => observeTlsServer(server.server, { logs: true as never }), /option "logs"/);
    assert.throws(() => observeTlsServer(server.server, { logs: { loggerProvider: {} as never } }), /option "logs\.loggerProvider".*getLogger/);
    assert.throws(() => observeTlsServer(server.server, { logs: { provider: 1 } as never }), /logs\.provider/);
  } finally {
    await server.close();
  }
});

test('a provider that throws never reaches the caller', () => {
  const emitter = new LogRecordEmitter({
    loggerProvider: {
      getLogger: () => ({
        emit: () => {
          throw new Error('exporter down');
        },
      }),
    },
  });
  assert.doesNotThrow(() =>
    emitter.emit({ eventName: 'e', severity: 'WARN', body: 'b', time: new Date(0), attributes: {} }),
  );
});
