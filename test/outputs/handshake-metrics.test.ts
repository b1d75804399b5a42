import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { observeTlsServer } from '../../lib/handshake/observer.js';
import { HandshakeMetrics, TLS_HANDSHAKE_DURATION_BUCKETS } from '../../lib/outputs/handshake-metrics.js';
import {
  METRIC_MTLS_SERVER_ACTIVE_TLS_HANDSHAKES,
  METRIC_MTLS_SERVER_CERTIFICATE_NOT_AFTER,
  METRIC_MTLS_SERVER_TLS_HANDSHAKE_DURATION,
} from '../../lib/outputs/semconv.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest, startHttpsServer, type StartHttpsServerOptions } from '../helpers/https.js';
import { createTestMeter, type TestMeter } from '../helpers/metric-reader.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

const DURATION = METRIC_MTLS_SERVER_TLS_HANDSHAKE_DURATION;
const ACTIVE = METRIC_MTLS_SERVER_ACTIVE_TLS_HANDSHAKES;
const NOT_AFTER = METRIC_MTLS_SERVER_CERTIFICATE_NOT_AFTER;

interface HistogramValue {
  readonly count: number;
  readonly sum: number;
  readonly buckets: { readonly boundaries: number[]; readonly counts: number[] };
}

async function observed(options: StartHttpsServerOptions = {}) {
  const meter = createTestMeter();
  const server = await startHttpsServer((_req, res) => void res.end('ok'), { rejectUnauthorized: true, ...options });
  const observer = observeTlsServer(server.server, { metrics: { meterProvider: meter.provider }, logs: false });
  return {
    meter,
    server,
    async close() {
      observer.detach();
      await server.close();
      await meter.shutdown();
    },
  };
}

async function attempt(port: number, client?: DevCertificate, maxVersion?: tls.SecureVersion): Promise<string> {
  try {
    const res = await httpsRequest({ port, ...(client ? { client } : {}), ...(maxVersion ? { maxVersion } : {}) });
    return String(res.status);
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

/** The histogram's points as `[attributes, count]`, sorted, after checking every point's boundaries. */
async function durationCounts(meter: TestMeter): Promise<[Record<string, unknown>, number][]> {
  const points = await meter.points(DURATION);
  for (const p of points) assert.deepEqual((p.value as HistogramValue).buckets.boundaries, [...TLS_HANDSHAKE_DURATION_BUCKETS]);
  return points
    .map((p): [Record<string, unknown>, number] => [p.attributes, (p.value as HistogramValue).count])
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function until(predicate: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('handshake duration: exact counts by tls.protocol.version and error.type, Kestrel-style', async () => {
  const h = await observed();
  try {
    assert.equal(await attempt(h.server.port, pki.clients.valid), '200');
    assert.equal(await attempt(h.server.port, pki.clients.valid), '200');
    assert.equal(await attempt(h.server.port, pki.clients.valid, 'TLSv1.2'), '200');
    assert.equal(await attempt(h.server.port, pki.clients.expired), 'ECONNRESET');
    // The client sees EPROTO or ECONNRESET, depending on when the server's close arrives.
    await attempt(h.server.port, undefined, 'TLSv1.2');
    // Plain HTTP on the TLS port.
    await new Promise<void>((resolve) => {
      const socket = net.connect(h.server.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.on('close', () => resolve()).on('error', () => undefined);
    });
    await until(async () => (await durationCounts(h.meter)).reduce((n, [, c]) => n + c, 0) === 6, 'six handshakes');
    assert.deepEqual(await durationCounts(h.meter), [
      // Node has destroyed the socket of a rejected certificate, and its protocol with it.
      [{ 'error.type': 'CERT_HAS_EXPIRED' }, 1],
      [{ 'error.type': 'CERT_MISSING', 'tls.protocol.version': '1.2' }, 1],
      [{ 'error.type': 'plain_http' }, 1],
      [{ 'tls.protocol.version': '1.2' }, 1],
      [{ 'tls.protocol.version': '1.3' }, 2],
    ]);
    const success = (await h.meter.points(DURATION)).find((p) => p.attributes['tls.protocol.version'] === '1.3' && !('error.type' in p.attributes))!;
    const value = success.value as HistogramValue;
    // A local handshake takes well under the largest bucket, and more than nothing.
    assert.ok(value.sum > 0 && value.sum < 10, String(value.sum));
    assert.equal(await h.meter.value(ACTIVE, {}), 0);
  } finally {
    await h.close();
  }
});

test('in-flight handshakes: a client that connects and sends nothing holds one open, until it leaves', async () => {
  const h = await observed();
  try {
    const sockets = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(h.server.port, '127.0.0.1', () => resolve(socket));
          }),
      ),
    );
    await until(async () => (await h.meter.value(ACTIVE, {})) === 2, 'two handshakes in progress');
    assert.deepEqual(await durationCounts(h.meter), []);
    sockets[0]!.destroy();
    await until(async () => (await h.meter.value(ACTIVE, {})) === 1, 'one handshake in progress');
    sockets[1]!.destroy();
    await until(async () => (await h.meter.value(ACTIVE, {})) === 0, 'no handshake in progress');
    assert.deepEqual(await durationCounts(h.meter), [[{ 'error.type': 'connection_closed' }, 2]]);
  } finally {
    await h.close();
  }
});

test('server certificate: not_after of the certificate served, before and after setSecureContext', async () => {
  const h = await observed();
  try {
    // Nothing served yet: no point.
    assert.deepEqual(await h.meter.points(NOT_AFTER), []);
    assert.equal(await attempt(h.server.port, pki.clients.valid), '200');
    const first = Date.parse(new X509Certificate(pki.server.certPem).validTo) / 1000;
    assert.deepEqual(await h.meter.points(NOT_AFTER), [{ attributes: {}, value: first }]);

    // The renewed certificate, loaded into the running server.
    const renewedNotAfter = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * 86_400_000);
    const renewed = await pki.ca.issue({
      subject: 'localhost',
      san: { dns: ['localhost'], ip: ['127.0.0.1'] },
      extendedKeyUsage: ['serverAuth'],
      notAfter: renewedNotAfter,
    });
    h.server.server.setSecureContext({ cert: renewed.chainPem, key: renewed.keyPem, ca: pki.ca.certPem });
    // The served certificate is read at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await attempt(h.server.port, pki.clients.valid), '200');
    assert.deepEqual(await h.meter.points(NOT_AFTER), [{ attributes: {}, value: renewedNotAfter.getTime() / 1000 }]);
    assert.notEqual(first, renewedNotAfter.getTime() / 1000);
  } finally {
    await h.close();
  }
});

test('attack: failure reasons beyond the attribute-set bound are recorded as _OTHER, not as new series', async () => {
  const meter = createTestMeter();
  try {
    const metrics = new HandshakeMetrics({ meterProvider: meter.provider });
    for (let i = 0; i < 200; i++) {
      metrics.handshakeStarted();
      metrics.handshakeEnded(0.001, `CODE_${i}`, 'TLSv1.3');
    }
    const points = await meter.points(DURATION);
    assert.equal(points.length, 65);
    const other = points.find((p) => p.attributes['error.type'] === '_OTHER')!;
    assert.deepEqual(other.attributes, { 'error.type': '_OTHER', 'tls.protocol.version': '1.3' });
    assert.equal((other.value as HistogramValue).count, 136);
    assert.equal(await meter.value(ACTIVE, {}), 0);
    // More ends than starts never go below zero.
    metrics.handshakeEnded(0.001, undefined, undefined);
    assert.equal(await meter.value(ACTIVE, {}), 0);
  } finally {
    await meter.shutdown();
  }
});
