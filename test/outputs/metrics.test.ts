/**
 * Metrics through the real SDK: exported over OTLP/HTTP (JSON) to a local receiver, and scraped
 * from the real Prometheus exporter over HTTP.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { mtlsIdentity } from '../../lib/middleware.js';
import { observeTlsServer } from '../../lib/handshake/observer.js';
import { MtlsMetrics, boundedReason, protocolVersionOf } from '../../lib/outputs/metrics.js';
import { MAX_RECENT_CERTIFICATES, TIME_LEFT_BUCKETS } from '../../lib/outputs/certificate-expiry.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { createSelfSignedCertificate, type DevCertificate, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { startHttpsServer, httpsRequest } from '../helpers/https.js';
import { startOtlpReceiver, type ReceivedPoint } from '../helpers/otlp-receiver.js';
import { createTestMeter } from '../helpers/metric-reader.js';
import type { IdentitySourceName, PeerIdentity, VerifyResult } from '../../lib/identity/peer-identity.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

/** An object that passes the MeterProvider shape check. */
function meterLike(): never {
  return { getMeter: () => ({}) } as never;
}

async function attempt(port: number, client?: DevCertificate): Promise<void> {
  try {
    await httpsRequest({ port, ...(client ? { client } : {}) });
  } catch {
    // Rejected handshakes are expected here.
  }
}

function strip(points: ReceivedPoint[], metric: string) {
  return points
    .filter((p) => p.metric === metric)
    .map((p) => ({ attributes: p.attributes, value: p.value }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

/** The Prometheus exporter's text, as a scrape gets it, without the scope labels every series carries. */
async function prometheusLines(exporter: PrometheusExporter): Promise<string[]> {
  const scrapeServer = http.createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((r) => scrapeServer.listen(0, '127.0.0.1', r));
  try {
    const text = await new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: (scrapeServer.address() as AddressInfo).port, path: '/metrics' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    return text
      .split('\n')
      .map((l) => l.replace(/,?otel_scope_name="mtls-observability",otel_scope_version="[^"]*"/, '').replace('{}', ''));
  } finally {
    await new Promise<void>((r) => scrapeServer.close(() => r()));
  }
}

describe('OTLP/HTTP export', () => {
  test('requests, handshakes and certificate expiry, with an SDK registered after the middleware was created and used', async () => {
    const receiver = await startOtlpReceiver();
    // Created, and used, before any SDK exists: the metrics API has no proxy provider, so
    // instruments must be bound lazily.
    const earlyMeter = metrics.getMeter('early');
    const mw = mtlsIdentity({ tracing: false, metrics: { expiryWarningSeconds: 400 * 86_400 } });
    const app = (req: http.IncomingMessage, res: http.ServerResponse) => mw(req, res, () => res.end('ok'));
    const permissive = await startHttpsServer(app, { rejectUnauthorized: false });
    const strict = await startHttpsServer(app, { rejectUnauthorized: true });
    await attempt(permissive.port, pki.clients.valid);

    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${receiver.url}/v1/metrics` }),
      exportIntervalMillis: 60_000,
    });
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    const observer = observeTlsServer(strict.server);
    try {
      assert.equal(earlyMeter.constructor.name, 'NoopMeter');
      await attempt(permissive.port, pki.clients.valid);
      await attempt(permissive.port, pki.clients.expired);
      await attempt(permissive.port);
      await attempt(strict.port, pki.clients.valid);
      await attempt(strict.port, pki.clients.expired);
      await attempt(strict.port, pki.clients.expired);
      await attempt(strict.port);
      await new Promise((r) => setTimeout(r, 100));
      await reader.forceFlush();
      await receiver.waitFor(() => receiver.metricExports.length >= 1, 'a metrics export');
      const points = receiver.metricExports.at(-1)!;
      assert.deepEqual(receiver.rejected, []);

      // The request before the SDK existed is included: counts are kept since the middleware was created.
      assert.deepEqual(strip(points, 'mtls.server.requests'), [
        { attributes: { 'mtls.verify.result': 'failed', 'error.type': 'CERT_HAS_EXPIRED', 'mtls.client.source': 'tls', 'mtls.verify.required': false }, value: 1 },
        { attributes: { 'mtls.verify.result': 'none', 'error.type': 'CERT_MISSING', 'mtls.client.source': 'tls', 'mtls.verify.required': false }, value: 1 },
        { attributes: { 'mtls.verify.result': 'success', 'mtls.client.source': 'tls', 'mtls.verify.required': false }, value: 3 },
      ]);
      assert.deepEqual(strip(points, 'mtls.server.handshakes'), [
        { attributes: { 'mtls.handshake.outcome': 'rejected', 'error.type': 'CERT_HAS_EXPIRED' }, value: 2 },
        { attributes: { 'mtls.handshake.outcome': 'rejected', 'error.type': 'CERT_MISSING', 'tls.protocol.version': '1.3' }, value: 1 },
        { attributes: { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.3', 'tls.resumed': false }, value: 1 },
      ]);
      const descriptor = (name: string) => {
        const p = points.find((x) => x.metric === name)!;
        return [p.type, p.unit, p.monotonic, p.scope, p.description];
      };
      assert.deepEqual(descriptor('mtls.server.requests'), [
        'sum', '{request}', true, 'mtls-observability',
        'Requests seen by the mtlsIdentity middleware, by client-certificate verification result.',
      ]);
      assert.deepEqual(descriptor('mtls.server.handshakes'), [
        'sum', '{handshake}', true, 'mtls-observability',
        'TLS handshakes seen by observeTlsServer, by outcome and failure reason.',
      ]);

      // Remaining validity: one sample per new connection with a verified certificate after the SDK
      // was registered (valid twice: once via strict). The expired certificate is not verified and
      // feeds none of the expiry instruments.
      const histogram = points.filter((p) => p.metric === 'mtls.server.client_certificate.time_left');
      assert.deepEqual(histogram.map((p) => [p.type, p.unit, p.attributes, p.value]), [
        ['histogram', 's', { 'mtls.verify.result': 'success', 'mtls.client.source': 'tls' }, 2],
      ]);
      const success = histogram[0]!;
      assert.deepEqual(success.explicitBounds, [...TIME_LEFT_BUCKETS]);
      // The valid certificate has about a year left: between 180 days and 1 year.
      assert.deepEqual(success.bucketCounts, [0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0]);

      // Soonest expiry among recent verified certificates: the valid one's.
      const expected = Math.floor((parseCertificate(pki.clients.valid.der).notAfter.getTime() - Date.now()) / 1000);
      const [minTimeLeft] = points.filter((p) => p.metric === 'mtls.server.client_certificate.min_time_left');
      assert.equal(minTimeLeft!.type, 'gauge');
      assert.equal(minTimeLeft!.unit, 's');
      assert.ok(Math.abs(minTimeLeft!.value - expected) <= 2, `${minTimeLeft!.value} vs ${expected}`);
      // It expires within the 400-day window given.
      assert.deepEqual(
        points.filter((p) => p.metric === 'mtls.server.client_certificate.expiring').map((p) => [p.type, p.unit, p.attributes, p.value]),
        [['gauge', '{certificate}', {}, 1]],
      );
      // Low cardinality: nothing identifying in any attribute.
      const allValues = JSON.stringify(points.map((p) => p.attributes));
      const valid = parseCertificate(pki.clients.valid.der);
      for (const secret of [valid.subject, valid.serialNumber, valid.fingerprint256, 'alice']) {
        assert.ok(!allValues.includes(secret), secret);
      }
    } finally {
      observer.detach();
      await permissive.close();
      await strict.close();
      await provider.shutdown();
      metrics.disable();
      await receiver.close();
    }
  });
});

describe('Prometheus exporter, scraped over HTTP', () => {
  test('exposition names, units and values', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    const mw = mtlsIdentity({ tracing: false, metrics: { meterProvider: provider }, require: true });
    const server = await startHttpsServer((req, res) => mw(req, res, () => res.end('ok')), { rejectUnauthorized: true });
    const observer = observeTlsServer(server.server, { metrics: { meterProvider: provider } });
    try {
      await attempt(server.port, pki.clients.valid);
      await attempt(server.port, pki.clients.expired);
      await attempt(server.port, pki.clients.untrusted);
      await new Promise((r) => setTimeout(r, 100));
      const lines = await prometheusLines(exporter);
      const text = lines.join('\n');
      const has = (line: string) => assert.ok(lines.includes(line), `missing ${line} in\n${text}`);
      has('# TYPE mtls_server_handshakes_total counter');
      has('mtls_server_handshakes_total{mtls_handshake_outcome="rejected",error_type="CERT_HAS_EXPIRED"} 1');
      has('mtls_server_handshakes_total{mtls_handshake_outcome="rejected",error_type="UNABLE_TO_VERIFY_LEAF_SIGNATURE"} 1');
      has('mtls_server_handshakes_total{mtls_handshake_outcome="success",tls_protocol_version="1.3",tls_resumed="false"} 1');
      has('# TYPE mtls_server_requests_total counter');
      has('mtls_server_requests_total{mtls_verify_result="success",mtls_client_source="tls",mtls_verify_required="true"} 1');
      has('# TYPE mtls_server_client_certificate_time_left histogram');
      has('# UNIT mtls_server_client_certificate_time_left s');
      has('mtls_server_client_certificate_time_left_count{mtls_verify_result="success",mtls_client_source="tls"} 1');
      has('# TYPE mtls_server_client_certificate_min_time_left gauge');
      has('# TYPE mtls_server_client_certificate_expiring gauge');
      has('mtls_server_client_certificate_expiring 0');
    } finally {
      observer.detach();
      await server.close();
      await provider.shutdown();
    }
  });
});

describe('MtlsMetrics', () => {
  const identity = (verify: string, reason?: string, source = 'tls'): PeerIdentity => ({
    verified: verify === 'SUCCESS',
    // Hostile values on purpose: outputs must bound whatever a source produced.
    verify: verify as VerifyResult,
    ...(reason !== undefined ? { reason } : {}),
    source: source as IdentitySourceName,
  });

  test('hostile or unknown reasons and sources become _OTHER; attribute sets are bounded', async () => {
    const meter = createTestMeter();
    try {
      const m = new MtlsMetrics({ meterProvider: meter.provider });
      m.recordRequest(identity('FAILED:x', 'CN=alice,O=evil\n'));
      m.recordRequest(identity('FAILED:CERT_REVOKED', 'CERT_REVOKED', 'Evil Source!'));
      for (let i = 0; i < 300; i++) m.recordRequest(identity(`FAILED:R${i}`, `R${i}`));
      const points = await meter.points('mtls.server.requests');
      // The hostile reason already made the overflow set, so the table holds exactly 256 sets.
      assert.equal(points.length, 256);
      assert.deepEqual(
        points.filter((p) => p.attributes['error.type'] === '_OTHER'),
        [
          { attributes: { 'mtls.verify.result': 'failed', 'error.type': '_OTHER', 'mtls.client.source': 'tls' }, value: 1 + 300 - 254 },
        ],
      );
      assert.ok(points.some((p) => p.attributes['mtls.client.source'] === '_OTHER' && p.attributes['error.type'] === 'CERT_REVOKED'));
    } finally {
      await meter.shutdown();
    }
  });

  test('one identity (one connection) is resolved once: its histogram sample is taken once, its requests all counted', async () => {
    const meter = createTestMeter();
    try {
      const m = new MtlsMetrics({ meterProvider: meter.provider, trackCertificates: true });
      const id: PeerIdentity = { verified: true, verify: 'SUCCESS', source: 'tls', certificate: parseCertificate(pki.clients.valid.der) };
      for (let i = 0; i < 5; i++) m.recordRequest(id);
      assert.deepEqual(await meter.points('mtls.server.requests'), [
        { attributes: { 'mtls.verify.result': 'success', 'mtls.client.source': 'tls' }, value: 5 },
      ]);
      const [histogram] = await meter.points('mtls.server.client_certificate.time_left');
      assert.equal((histogram!.value as { count: number }).count, 1);
      // Default warning window (7 days): the one-year certificate is not expiring.
      assert.deepEqual(await meter.points('mtls.server.client_certificate.expiring'), [{ attributes: {}, value: 0 }]);
    } finally {
      await meter.shutdown();
    }
  });

  test('two recorders on one provider are summed, not overwritten', async () => {
    const meter = createTestMeter();
    try {
      const a = new MtlsMetrics({ meterProvider: meter.provider });
      const b = new MtlsMetrics({ meterProvider: meter.provider });
      a.recordHandshake('success', undefined, 'TLSv1.2', false);
      b.recordHandshake('success', undefined, 'TLSv1.2', false);
      b.recordHandshake('failed', 'plain_http');
      assert.deepEqual(
        (await meter.points('mtls.server.handshakes')).map((p) => [p.attributes, p.value]),
        [
          [{ 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.2', 'tls.resumed': false }, 2],
          [{ 'mtls.handshake.outcome': 'failed', 'error.type': 'plain_http' }, 1],
        ],
      );
    } finally {
      await meter.shutdown();
    }
  });

  test('helpers: reason bounding and protocol versions', () => {
    assert.equal(boundedReason('CERT_HAS_EXPIRED'), 'CERT_HAS_EXPIRED');
    assert.equal(boundedReason('ERR_MTLS_CERT_PARSE'), 'ERR_MTLS_CERT_PARSE');
    assert.equal(boundedReason('a b'), '_OTHER');
    assert.equal(boundedReason('A'.repeat(65)), '_OTHER');
    assert.equal(boundedReason(undefined), undefined);
    assert.equal(protocolVersionOf('TLSv1.3'), '1.3');
    assert.equal(protocolVersionOf('TLSv1'), '1');
    assert.equal(protocolVersionOf('unknown'), undefined);
    assert.equal(protocolVersionOf(null), undefined);
  });

  test('metrics: false records nothing; a bad meterProvider is a TypeError', async () => {
    const meter = createTestMeter();
    try {
      // The global provider is the test's, so anything recorded would show.
      metrics.setGlobalMeterProvider(meter.provider);
      const mw = mtlsIdentity({ metrics: false, tracing: false });
      const server = await startHttpsServer((req, res) => mw(req, res, () => res.end('ok')));
      try {
        await attempt(server.port, pki.clients.valid);
      } finally {
        await server.close();
      }
      assert.deepEqual(await meter.points('mtls.server.requests'), []);
    } finally {
      metrics.disable();
      await meter.shutdown();
    }
    assert.throws(() => mtlsIdentity({ metrics: { meterProvider: {} as never } }), {
      name: 'TypeError',
      message:
        'mtlsIdentity(): option "metrics.meterProvider" must be a MeterProvider (an object with getMeter(), e.g. from @opentelemetry/sdk-metrics), got an object.',
    });
    assert.throws(() => mtlsIdentity({ metrics: { expiryWarningSeconds: -1 } }), {
      name: 'TypeError',
      message: 'mtlsIdentity(): option "metrics.expiryWarningSeconds" must be an integer from 1 to 316224000, got -1.',
    });
    assert.throws(() => mtlsIdentity({ metrics: { recentCertificateSeconds: 0 } }), {
      name: 'TypeError',
      message: 'mtlsIdentity(): option "metrics.recentCertificateSeconds" must be an integer from 1 to 31622400, got 0.',
    });
    const offOrObject = 'false (off) or an object of metrics options ({} for the defaults)';
    assert.throws(() => mtlsIdentity({ metrics: true } as never), {
      name: 'TypeError',
      message: `mtlsIdentity(): option "metrics" must be ${offOrObject}, got true.`,
    });
    assert.throws(() => mtlsIdentity({ metrics: { meterProvider: meterLike(), proxy: {} } } as never), {
      name: 'TypeError',
      message: 'mtlsIdentity(): unknown option "metrics.proxy". Known options of "metrics": meterProvider, expiryWarningSeconds, recentCertificateSeconds, clients.',
    });
    // observeTlsServer's metrics has only the provider: the expiry instruments need certificates.
    const server = await startHttpsServer((_req, res) => res.end('ok'));
    try {
      assert.throws(() => observeTlsServer(server.server, { metrics: { expiryWarningSeconds: 60 } } as never), {
        name: 'TypeError',
        message: 'observeTlsServer(): unknown option "metrics.expiryWarningSeconds". Known options of "metrics": meterProvider.',
      });
      assert.throws(() => observeTlsServer(server.server, { metrics: 'on' } as never), {
        name: 'TypeError',
        message: `observeTlsServer(): option "metrics" must be ${offOrObject}, got "on".`,
      });
      assert.throws(() => observeTlsServer(server.server, { meterProvider: meterLike() } as never), {
        name: 'TypeError',
        message: /^observeTlsServer\(\): unknown option "meterProvider"\. Known options: log, logFormat, logNoise, onHandshakeFailure, allowRenegotiation, metrics, logs\.$/,
      });
    } finally {
      await server.close();
    }
  });
});

describe('expiry instruments are fed by verified certificates only', () => {
  const DAY_MS = 86_400_000;

  /** What any client can present: a self-signed certificate that expired a day ago. */
  function expiredSelfSigned() {
    const now = Date.now();
    return createSelfSignedCertificate({ subject: 'anyone', notBefore: new Date(now - 30 * DAY_MS), notAfter: new Date(now - DAY_MS) });
  }

  /** `floor((notAfter - now) / 1000)` over the time `collect` ran: the gauge's exact value lies in it. */
  async function secondsLeftAround<T>(notAfter: Date, collect: () => Promise<T>): Promise<{ result: T; range: [number, number] }> {
    const before = Date.now();
    const result = await collect();
    const after = Date.now();
    return { result, range: [Math.floor((notAfter.getTime() - after) / 1000), Math.floor((notAfter.getTime() - before) / 1000)] };
  }

  test('a self-signed, expired certificate answered 403 moves neither gauge nor the histogram; a verified one does', async () => {
    const attacker = await expiredSelfSigned();
    const meter = createTestMeter();
    const mw = mtlsIdentity({ tracing: false, metrics: { meterProvider: meter.provider }, require: true });
    const server = await startHttpsServer((req, res) => mw(req, res, () => res.end('ok')), { rejectUnauthorized: false });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await httpsRequest({ port: server.port, client: attacker })).status, 403);
      assert.deepEqual(await meter.points('mtls.server.requests'), [
        {
          attributes: { 'mtls.verify.result': 'failed', 'error.type': 'CERT_HAS_EXPIRED', 'mtls.client.source': 'tls', 'mtls.verify.required': true },
          value: 3,
        },
      ]);
      // No verified certificate seen: no min_time_left point (the expiry alert stays quiet), none expiring.
      assert.deepEqual(await meter.points('mtls.server.client_certificate.min_time_left'), []);
      assert.deepEqual(await meter.points('mtls.server.client_certificate.expiring'), [{ attributes: {}, value: 0 }]);
      assert.deepEqual(await meter.points('mtls.server.client_certificate.time_left'), []);

      assert.equal((await httpsRequest({ port: server.port, client: pki.clients.valid })).status, 200);
      const valid = parseCertificate(pki.clients.valid.der);
      const { result: minTimeLeft, range } = await secondsLeftAround(valid.notAfter, () =>
        meter.points('mtls.server.client_certificate.min_time_left'),
      );
      assert.equal(minTimeLeft.length, 1);
      assert.deepEqual(minTimeLeft[0]!.attributes, {});
      const value = minTimeLeft[0]!.value as number;
      assert.ok(value >= range[0] && value <= range[1], `${value} not in ${range.join('..')}`);
      assert.ok(value > 300 * 86_400);
      assert.deepEqual(await meter.points('mtls.server.client_certificate.expiring'), [{ attributes: {}, value: 0 }]);
      const histogram = await meter.points('mtls.server.client_certificate.time_left');
      assert.deepEqual(
        histogram.map((p) => [p.attributes, (p.value as { count: number }).count]),
        [[{ 'mtls.verify.result': 'success', 'mtls.client.source': 'tls' }, 1]],
      );
    } finally {
      await server.close();
      await meter.shutdown();
    }
  });

  test(`${MAX_RECENT_CERTIFICATES + 1} distinct unverified certificates do not push a verified one out of the recent set`, async () => {
    const attacker = await expiredSelfSigned();
    const meter = createTestMeter();
    try {
      const m = new MtlsMetrics({ meterProvider: meter.provider, expiryWarningSeconds: 400 * 86_400, trackCertificates: true });
      const valid = parseCertificate(pki.clients.valid.der);
      m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: valid });
      // Distinct certificates, as a client that makes a new one per connection presents them: the
      // same certificate with other signature bytes (Node reports the same failure for each).
      for (let i = 0; i <= MAX_RECENT_CERTIFICATES; i++) {
        const der = Uint8Array.from(attacker.der);
        der[der.length - 1] = i & 0xff;
        der[der.length - 2] = (i >> 8) & 0xff;
        const certificate = parseCertificate(der);
        m.recordRequest({ verified: false, verify: 'FAILED:CERT_HAS_EXPIRED', reason: 'CERT_HAS_EXPIRED', source: 'tls', certificate });
      }
      const { result: minTimeLeft, range } = await secondsLeftAround(valid.notAfter, () =>
        meter.points('mtls.server.client_certificate.min_time_left'),
      );
      const value = minTimeLeft[0]!.value as number;
      assert.equal(minTimeLeft.length, 1);
      assert.ok(value >= range[0] && value <= range[1], `${value} not in ${range.join('..')}`);
      // Only the verified certificate: it expires within the 400-day window.
      assert.deepEqual(await meter.points('mtls.server.client_certificate.expiring'), [{ attributes: {}, value: 1 }]);
      const histogram = await meter.points('mtls.server.client_certificate.time_left');
      assert.deepEqual(
        histogram.map((p) => [p.attributes, (p.value as { count: number }).count]),
        [[{ 'mtls.verify.result': 'success', 'mtls.client.source': 'tls' }, 1]],
      );
      assert.deepEqual(await meter.points('mtls.server.requests'), [
        { attributes: { 'mtls.verify.result': 'success', 'mtls.client.source': 'tls' }, value: 1 },
        {
          attributes: { 'mtls.verify.result': 'failed', 'error.type': 'CERT_HAS_EXPIRED', 'mtls.client.source': 'tls' },
          value: MAX_RECENT_CERTIFICATES + 1,
        },
      ]);
    } finally {
      await meter.shutdown();
    }
  });
});

describe('certificate gauges once no certificate was seen recently', () => {
  const gaugeLines = (lines: string[]) => lines.filter((l) => /^mtls_server_client_certificate_(min_time_left|expiring|not_after)[ {]/.test(l));

  test('the SDK (cumulative) goes on exporting the last value of a gauge point its callback no longer observes', async () => {
    const meter = createTestMeter();
    try {
      let observing = true;
      meter.provider
        .getMeter('test')
        .createObservableGauge('g')
        .addCallback((result) => {
          if (observing) result.observe(5, { k: 'a' });
        });
      assert.deepEqual(await meter.points('g'), [{ attributes: { k: 'a' }, value: 5 }]);
      observing = false;
      assert.deepEqual(await meter.points('g'), [{ attributes: { k: 'a' }, value: 5 }]);
      assert.deepEqual(await meter.points('g'), [{ attributes: { k: 'a' }, value: 5 }]);
    } finally {
      await meter.shutdown();
    }
  });

  test('min_time_left and each client\'s not_after read NaN (not their last value) through the Prometheus exporter; seen again, they are back', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    try {
      const m = new MtlsMetrics({
        meterProvider: provider,
        trackCertificates: true,
        recentCertificateSeconds: 1,
        expiryWarningSeconds: 400 * 86_400,
        clients: { label: 'subject-cn' },
      });
      // Before any verified certificate: no min_time_left point, nothing expiring.
      m.recordRequest({ verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' });
      assert.deepEqual(gaugeLines(await prometheusLines(exporter)), ['mtls_server_client_certificate_expiring 0']);
      const alice = parseCertificate(pki.clients.valid.der);
      const before = Date.now();
      m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: alice });
      const seen = gaugeLines(await prometheusLines(exporter));
      const after = Date.now();
      const minTimeLeft = Number(/^mtls_server_client_certificate_min_time_left (\S+)$/.exec(seen[0]!)?.[1]);
      assert.ok(
        minTimeLeft >= Math.floor((alice.notAfter.getTime() - after) / 1000) && minTimeLeft <= Math.floor((alice.notAfter.getTime() - before) / 1000),
        seen[0],
      );
      assert.deepEqual(seen.slice(1), [
        'mtls_server_client_certificate_expiring 1',
        `mtls_server_client_certificate_not_after{mtls_client_id="alice"} ${alice.notAfter.getTime() / 1000}`,
      ]);
      // The window (1 s) passes without a connection.
      await new Promise((r) => setTimeout(r, 1100));
      const stale = [
        'mtls_server_client_certificate_min_time_left NaN',
        'mtls_server_client_certificate_expiring 0',
        'mtls_server_client_certificate_not_after{mtls_client_id="alice"} NaN',
      ];
      assert.deepEqual(gaugeLines(await prometheusLines(exporter)), stale);
      assert.deepEqual(gaugeLines(await prometheusLines(exporter)), stale);
      m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: alice });
      const back = gaugeLines(await prometheusLines(exporter));
      assert.match(back[0]!, /^mtls_server_client_certificate_min_time_left \d+$/);
      assert.deepEqual(back.slice(1), seen.slice(1));
    } finally {
      await provider.shutdown();
    }
  });

  test('every recorder gone (garbage collected): the gauges read NaN, not the last recorder\'s values', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [exporter] });
    try {
      const alice = parseCertificate(pki.clients.valid.der);
      // Once this returns, nothing but a WeakRef in the instruments refers to the recorder.
      (() => {
        const m = new MtlsMetrics({ meterProvider: provider, trackCertificates: true, clients: { label: 'subject-cn' } });
        m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: alice });
      })();
      assert.equal(gaugeLines(await prometheusLines(exporter)).length, 3);
      // A WeakRef keeps its target until the current job ends.
      await new Promise((r) => setImmediate(r));
      gc();
      assert.deepEqual(gaugeLines(await prometheusLines(exporter)), [
        'mtls_server_client_certificate_min_time_left NaN',
        'mtls_server_client_certificate_expiring NaN',
        'mtls_server_client_certificate_not_after{mtls_client_id="alice"} NaN',
      ]);
    } finally {
      await provider.shutdown();
    }
  });
});

describe('spoofing attempts', () => {
  test('forwarded-certificate headers from an untrusted peer are counted by proxy format, never as an identity', async () => {
    const meter = createTestMeter();
    const mw = mtlsIdentity({
      tracing: false,
      metrics: { meterProvider: meter.provider },
      proxy: { format: 'nginx', trustedProxies: ['192.0.2.10/32'], onUntrustedHeaders: () => {} },
    });
    const server = http.createServer((req, res) => mw(req, res, () => res.end('ok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const send = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, headers, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    try {
      const forged = { 'X-SSL-Client-Cert': encodeURIComponent(pki.clients.valid.certPem), 'X-SSL-Client-Verify': 'SUCCESS' };
      assert.equal(await send(forged), 200);
      assert.equal(await send(forged), 200);
      assert.equal(await send({}), 200);
      assert.deepEqual(await meter.points('mtls.server.untrusted_proxy_headers'), [
        { attributes: { 'mtls.client.source': 'nginx' }, value: 2 },
      ]);
      // The forged requests were counted as what they are: plain HTTP without a certificate.
      assert.deepEqual(await meter.points('mtls.server.requests'), [
        { attributes: { 'mtls.verify.result': 'none', 'error.type': 'NOT_TLS', 'mtls.client.source': 'tls', 'mtls.verify.required': false }, value: 3 },
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await meter.shutdown();
    }
  });
});

describe('per-client metrics (metrics.clients)', () => {
  const DAY_MS = 86_400_000;
  const sorted = (points: { attributes: Record<string, unknown>; value: unknown }[]) =>
    points.map((p) => [p.attributes, p.value] as const).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  test('more verified clients than maxClients over real TLS: labels, the overflow, the folded count and each expiry', async () => {
    const keyPair = pki.clients.valid.keyPair;
    const now = Date.now();
    // client-i expires in i + 1 days (whole seconds, as certificates carry them).
    const clients = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        pki.ca.issue({ subject: `client-${i}`, notAfter: new Date(now + (i + 1) * DAY_MS), keyPair }),
      ),
    );
    const notAfterSeconds = clients.map((c) => parseCertificate(c.der).notAfter.getTime() / 1000);
    // An attacker without a valid certificate: a new self-signed one, with a new CN, per connection.
    const forged = await Promise.all([0, 1, 2].map((i) => createSelfSignedCertificate({ subject: `forged-${i}`, keyPair })));
    const meter = createTestMeter();
    const mw = mtlsIdentity({ tracing: false, metrics: { meterProvider: meter.provider, clients: { label: 'subject-cn', maxClients: 2 } } });
    const server = await startHttpsServer((req, res) => mw(req, res, () => res.end('ok')));
    try {
      for (const [i, times] of [[0, 3], [1, 1], [2, 2], [3, 1]] as const) {
        for (let n = 0; n < times; n++) assert.equal((await httpsRequest({ port: server.port, client: clients[i] })).status, 200);
      }
      for (const f of forged) await httpsRequest({ port: server.port, client: f });
      await httpsRequest({ port: server.port });
      const base = { 'mtls.client.source': 'tls', 'mtls.verify.required': false };
      assert.deepEqual(
        sorted(await meter.points('mtls.server.requests')),
        sorted([
          { attributes: { 'mtls.verify.result': 'success', ...base, 'mtls.client.id': 'client-0' }, value: 3 },
          { attributes: { 'mtls.verify.result': 'success', ...base, 'mtls.client.id': 'client-1' }, value: 1 },
          { attributes: { 'mtls.verify.result': 'success', ...base, 'mtls.client.id': '_OTHER' }, value: 3 },
          { attributes: { 'mtls.verify.result': 'failed', 'error.type': 'DEPTH_ZERO_SELF_SIGNED_CERT', ...base }, value: 3 },
          { attributes: { 'mtls.verify.result': 'none', 'error.type': 'CERT_MISSING', ...base }, value: 1 },
        ]),
      );
      assert.deepEqual(await meter.points('mtls.server.client_id.folded_requests'), [{ attributes: {}, value: 3 }]);
      // _OTHER holds the soonest expiry of the folded clients (client-2's).
      assert.deepEqual(
        sorted(await meter.points('mtls.server.client_certificate.not_after')),
        sorted([
          { attributes: { 'mtls.client.id': 'client-0' }, value: notAfterSeconds[0] },
          { attributes: { 'mtls.client.id': 'client-1' }, value: notAfterSeconds[1] },
          { attributes: { 'mtls.client.id': '_OTHER' }, value: notAfterSeconds[2] },
        ]),
      );
    } finally {
      await server.close();
      await meter.shutdown();
    }
  });

  test('a client gone from the recent set reads NaN (the SDK would repeat its last value); seen again, its expiry is back', async () => {
    const meter = createTestMeter();
    try {
      const m = new MtlsMetrics({ meterProvider: meter.provider, trackCertificates: true, recentCertificateSeconds: 1, clients: { label: 'subject-cn' } });
      const alice = parseCertificate(pki.clients.valid.der);
      m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: alice });
      const expected = alice.notAfter.getTime() / 1000;
      assert.deepEqual(await meter.points('mtls.server.client_certificate.not_after'), [{ attributes: { 'mtls.client.id': 'alice' }, value: expected }]);
      await new Promise((r) => setTimeout(r, 1100));
      const [stale] = await meter.points('mtls.server.client_certificate.not_after');
      assert.deepEqual(stale!.attributes, { 'mtls.client.id': 'alice' });
      assert.ok(Number.isNaN(stale!.value));
      m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: alice });
      assert.deepEqual(await meter.points('mtls.server.client_certificate.not_after'), [{ attributes: { 'mtls.client.id': 'alice' }, value: expected }]);
      // Still one client and no folded requests.
      assert.deepEqual(await meter.points('mtls.server.client_id.folded_requests'), [{ attributes: {}, value: 0 }]);
    } finally {
      await meter.shutdown();
    }
  });

  test('without metrics.clients nothing is labelled and neither client instrument has a point', async () => {
    const meter = createTestMeter();
    try {
      const m = new MtlsMetrics({ meterProvider: meter.provider, trackCertificates: true });
      m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate: parseCertificate(pki.clients.valid.der) });
      assert.deepEqual(await meter.points('mtls.server.requests'), [
        { attributes: { 'mtls.verify.result': 'success', 'mtls.client.source': 'tls' }, value: 1 },
      ]);
      assert.deepEqual(await meter.points('mtls.server.client_id.folded_requests'), []);
      assert.deepEqual(await meter.points('mtls.server.client_certificate.not_after'), []);
    } finally {
      await meter.shutdown();
    }
  });

  test('10,000 distinct verified clients with maxClients 100: 101 request series and 101 expiry points', async () => {
    const meter = createTestMeter();
    try {
      const m = new MtlsMetrics({ meterProvider: meter.provider, trackCertificates: true, clients: { label: (id) => id.certificate?.serialNumber } });
      const alice = parseCertificate(pki.clients.valid.der);
      // What a CA that issued many certificates produces: each one verified, each with its own name.
      for (let i = 0; i < 10_000; i++) {
        const certificate = { ...alice, serialNumber: i.toString(16).toUpperCase(), fingerprint256: i.toString(16).padStart(64, '0') };
        m.recordRequest({ verified: true, verify: 'SUCCESS', source: 'tls', certificate });
      }
      const requests = await meter.points('mtls.server.requests');
      assert.equal(requests.length, 101);
      assert.deepEqual(requests.find((p) => p.attributes['mtls.client.id'] === '_OTHER')?.value, 9_900);
      assert.equal((await meter.points('mtls.server.client_certificate.not_after')).length, 101);
      assert.deepEqual(await meter.points('mtls.server.client_id.folded_requests'), [{ attributes: {}, value: 9_900 }]);
    } finally {
      await meter.shutdown();
    }
  });
});
