/**
 * A real Prometheus (Debian's, installed by test/e2e/setup.sh) scrapes the app's OpenTelemetry
 * Prometheus exporter every second on loopback, with docs/alerts.yml loaded. Good and bad clients
 * are driven against an HTTPS server with rejectUnauthorized: true, and the counters are read back
 * through Prometheus's query API, and the alert rules' own expressions are evaluated by it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { mtlsIdentity } from '../../lib/middleware.js';
import { observeTlsServer, type TlsServerObserver } from '../../lib/handshake/observer.js';
import { createSelfSignedCertificate, DEV_CLIENT_SPIFFE_ID, type DevCertificate, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { getTestPki } from '../helpers/pki.js';
import { startHttpsServer, httpsRequest, type StartedHttpsServer } from '../helpers/https.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let pki: DevCertificateSet;
let provider: MeterProvider;
let scrapeServer: http.Server;
let app: StartedHttpsServer;
let observer: TlsServerObserver;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
/** The app of the per-client test: metrics.clients on, its own provider and scrape target. */
let clientsProvider: MeterProvider;
let clientsScrapeServer: http.Server;
let clientsApp: StartedHttpsServer;
const MAX_CLIENTS = 3;
let workDir: string;
const lines: string[] = [];

async function startPrometheus(targetPort: number, clientsPort: number): Promise<void> {
  workDir = await mkdtemp(path.join(tmpdir(), 'mtls-prometheus-'));
  const config = path.join(workDir, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(path.join(root, 'docs/alerts.yml'))}`,
      'scrape_configs:',
      '  - job_name: mtls-app',
      '    static_configs:',
      `      - targets: ["127.0.0.1:${targetPort}"]`,
      '  - job_name: mtls-clients',
      '    static_configs:',
      `      - targets: ["127.0.0.1:${clientsPort}"]`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(workDir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--log.level=info',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus = child;
  let log = '';
  // Port 0: Prometheus logs the address it really listens on.
  prometheusUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prometheus did not start:\n${log}`)), 15_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      log += chunk;
      const m = /msg="Listening on" address=(127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`prometheus exited with ${code}:\n${log}`));
    });
  });
  child.stderr.resume();
}

async function getJson(url: string): Promise<unknown> {
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  return JSON.parse(body) as unknown;
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<VectorSample[]> {
  const body = (await getJson(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
    status: string;
    data: { resultType: string; result: VectorSample[] };
  };
  assert.equal(body.status, 'success');
  assert.equal(body.data.resultType, 'vector');
  return body.data.result;
}

/** Polls until the query returns one sample with `value`; bounded (20 s). */
async function waitForValue(promql: string, value: string): Promise<VectorSample> {
  const deadline = Date.now() + 20_000;
  let last: VectorSample[] = [];
  while (Date.now() < deadline) {
    last = await query(promql);
    if (last.length === 1 && last[0]!.value[1] === value) return last[0]!;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${promql}: expected ${value}, last result ${JSON.stringify(last)}`);
}

async function attempt(client?: DevCertificate): Promise<number | string> {
  try {
    return (await httpsRequest({ port: app.port, ...(client ? { client } : {}) })).status;
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

before(async () => {
  pki = await getTestPki();
  const exporter = new PrometheusExporter({ preventServerStart: true });
  provider = new MeterProvider({ readers: [exporter] });
  scrapeServer = http.createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((r) => scrapeServer.listen(0, '127.0.0.1', r));
  // The valid client's SPIFFE ID is the only one expected: anyone else verified is unexpected.
  const mw = mtlsIdentity({
    require: true,
    tracing: false,
    metrics: { meterProvider: provider },
    expected: { mode: 'observe', spiffeIds: [DEV_CLIENT_SPIFFE_ID] },
  });
  app = await startHttpsServer((req, res) => mw(req, res, () => res.end('ok')), { rejectUnauthorized: true });
  observer = observeTlsServer(app.server, { log: (l) => lines.push(l), metrics: { meterProvider: provider } });
  const clientsExporter = new PrometheusExporter({ preventServerStart: true });
  clientsProvider = new MeterProvider({ readers: [clientsExporter] });
  clientsScrapeServer = http.createServer((req, res) => clientsExporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((r) => clientsScrapeServer.listen(0, '127.0.0.1', r));
  const clientsMw = mtlsIdentity({
    tracing: false,
    metrics: { meterProvider: clientsProvider, clients: { label: 'subject-cn', maxClients: MAX_CLIENTS } },
  });
  clientsApp = await startHttpsServer((req, res) => clientsMw(req, res, () => res.end('ok')), { rejectUnauthorized: false });
  await startPrometheus(
    (scrapeServer.address() as net.AddressInfo).port,
    (clientsScrapeServer.address() as net.AddressInfo).port,
  );
});

after(async () => {
  observer?.detach();
  await app?.close();
  await clientsApp?.close();
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((r) => (scrapeServer ? scrapeServer.close(() => r()) : r()));
  await new Promise<void>((r) => (clientsScrapeServer ? clientsScrapeServer.close(() => r()) : r()));
  await provider?.shutdown();
  await clientsProvider?.shutdown();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('an expired certificate under rejectUnauthorized: true: a CERT_HAS_EXPIRED line and counter, seen through Prometheus', async () => {
  assert.equal(await attempt(pki.clients.valid), 200);
  for (let i = 0; i < 3; i++) assert.equal(await attempt(pki.clients.expired), 'ECONNRESET');
  await attempt(pki.clients.untrusted);
  await attempt();
  // Noise: a TCP health check.
  await new Promise<void>((resolve) => {
    const s = net.connect((app.server.address() as net.AddressInfo).port, '127.0.0.1', () => s.end());
    s.on('error', () => {});
    s.on('close', () => resolve());
  });

  const expired = await waitForValue(
    'mtls_server_handshakes_total{job="mtls-app",mtls_handshake_outcome="rejected",error_type="CERT_HAS_EXPIRED"}',
    '3',
  );
  assert.equal(expired.metric.__name__, 'mtls_server_handshakes_total');
  assert.equal(expired.metric.otel_scope_name, 'mtls-observability');
  console.log('Prometheus query result:', JSON.stringify(expired));

  await waitForValue('mtls_server_handshakes_total{mtls_handshake_outcome="rejected",error_type="UNABLE_TO_VERIFY_LEAF_SIGNATURE"}', '1');
  await waitForValue('mtls_server_handshakes_total{mtls_handshake_outcome="rejected",error_type="CERT_MISSING"}', '1');
  await waitForValue('mtls_server_handshakes_total{mtls_handshake_outcome="failed",error_type="connection_closed"}', '1');
  await waitForValue('sum(mtls_server_handshakes_total{mtls_handshake_outcome="success"})', '1');
  await waitForValue(
    'mtls_server_requests_total{mtls_verify_result="success",mtls_verify_required="true",mtls_client_source="tls"}',
    '1',
  );
  // Remaining validity of the one certificate that got through: about a year.
  const [gauge] = await query('mtls_server_client_certificate_min_time_left{job="mtls-app"}');
  assert.ok(Number(gauge!.value[1]) > 300 * 86_400, JSON.stringify(gauge));
  await waitForValue('mtls_server_client_certificate_time_left_count{mtls_verify_result="success"}', '1');
  // Handshake timing: the one success and the six failures, none in progress; the served certificate's expiry.
  await waitForValue('mtls_server_tls_handshake_duration_count{tls_protocol_version="1.3",error_type=""}', '1');
  await waitForValue('mtls_server_tls_handshake_duration_count{error_type="CERT_HAS_EXPIRED"}', '3');
  await waitForValue('mtls_server_tls_handshake_duration_count{error_type="connection_closed"}', '1');
  await waitForValue('mtls_server_active_tls_handshakes', '0');
  await waitForValue('mtls_server_certificate_not_after', String(Date.parse(new X509Certificate(pki.server.certPem).validTo) / 1000));

  const expiredLines = lines.filter((l) => l.includes('reason=CERT_HAS_EXPIRED'));
  assert.equal(expiredLines.length, 3);
  assert.match(
    expiredLines[0]!,
    /^127\.0\.0\.1 - - \[[^\]]+\] "TLS handshake failed" outcome=rejected reason=CERT_HAS_EXPIRED verify=FAILED:CERT_HAS_EXPIRED tls_version=- remote_port=\d+ error_code=ECONNRESET$/,
  );
  console.log('Handshake failure line:', expiredLines[0]);
  assert.equal(lines.length, 6);
});

test('docs/alerts.yml loads into Prometheus and its rules evaluate against the real series without errors', async () => {
  const deadline = Date.now() + 20_000;
  let groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] = [];
  while (Date.now() < deadline) {
    const body = (await getJson(`${prometheusUrl}/api/v1/rules`)) as { data: { groups: typeof groups } };
    groups = body.data.groups;
    if (groups.length === 2 && groups.every((g) => g.rules.every((r) => r.health === 'ok'))) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(
    groups.map((g) => [g.name, g.rules.map((r) => [r.name, r.health])]),
    [['mtls-observability', [
      ['MtlsRejectedHandshakesSpike', 'ok'],
      ['MtlsClientCertificateExpiringSoon', 'ok'],
      ['MtlsRequestsWithoutIdentity', 'ok'],
      ['MtlsVerifiedShareDrop', 'ok'],
      ['MtlsUnexpectedIdentities', 'ok'],
      ['MtlsLabelledClientCertificateExpiringSoon', 'ok'],
    ]], ['mtls-observability-server-certificate', [['MtlsServerCertificateExpiringSoon', 'ok']]]],
  );
});

/** Polls until `promql` gives exactly `expected` (rows of the chosen labels and the value, sorted); bounded (20 s). */
async function waitForRows(promql: string, labels: readonly string[], expected: string[][]): Promise<VectorSample[]> {
  const rows = (samples: VectorSample[]) =>
    samples.map((s) => [...labels.map((l) => s.metric[l] ?? ''), s.value[1]]).sort((a, b) => a.join('|').localeCompare(b.join('|')));
  const want = [...expected].sort((a, b) => a.join('|').localeCompare(b.join('|')));
  const deadline = Date.now() + 20_000;
  let last: VectorSample[] = [];
  while (Date.now() < deadline) {
    last = await query(promql);
    if (JSON.stringify(rows(last)) === JSON.stringify(want)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(rows(last), want, promql);
  return last;
}

test(`per-client metrics through Prometheus: ${MAX_CLIENTS + 2} verified clients, maxClients ${MAX_CLIENTS}, forged clients unlabelled`, async () => {
  const DAY_MS = 86_400_000;
  const now = Date.now();
  const keyPair = pki.clients.valid.keyPair;
  // client-1 expires in 3 days, client-2 in 20, client-3 in 40, client-4 in 60, client-5 in 80.
  const days = [3, 20, 40, 60, 80];
  const clients = await Promise.all(
    days.map((d, i) => pki.ca.issue({ subject: [{ type: 'O', value: 'payments' }, { type: 'CN', value: `client-${i + 1}` }], notAfter: new Date(now + d * DAY_MS), keyPair })),
  );
  const notAfter = clients.map((c) => String(parseCertificate(c.der).notAfter.getTime() / 1000));
  const request = async (client?: DevCertificate) => (await httpsRequest({ port: clientsApp.port, ...(client ? { client } : {}) })).status;
  // client-1 holds one valid certificate and reconnects 20 times: still one label.
  for (let n = 0; n < 20; n++) assert.equal(await request(clients[0]), 200);
  assert.equal(await request(clients[1]), 200);
  assert.equal(await request(clients[2]), 200);
  // Past the maximum: client-4 and client-5 fold into _OTHER.
  for (let n = 0; n < 2; n++) assert.equal(await request(clients[3]), 200);
  assert.equal(await request(clients[4]), 200);
  // An attacker without a valid certificate: a new self-signed certificate, with a new CN, per connection.
  for (let n = 0; n < 5; n++) {
    assert.equal(await request(await createSelfSignedCertificate({ subject: `forged-${n}`, keyPair })), 200);
  }
  assert.equal(await request(), 200);

  const requests = await waitForRows(
    'mtls_server_requests_total{job="mtls-clients"}',
    ['mtls_client_id', 'mtls_verify_result', 'error_type'],
    [
      ['client-1', 'success', '', '20'],
      ['client-2', 'success', '', '1'],
      ['client-3', 'success', '', '1'],
      ['_OTHER', 'success', '', '3'],
      ['', 'failed', 'DEPTH_ZERO_SELF_SIGNED_CERT', '5'],
      ['', 'none', 'CERT_MISSING', '1'],
    ],
  );
  console.log('Prometheus query mtls_server_requests_total{job="mtls-clients"}:', JSON.stringify(requests));
  const folded = await waitForRows('mtls_server_client_id_folded_requests_total{job="mtls-clients"}', [], [['3']]);
  console.log('Prometheus query mtls_server_client_id_folded_requests_total{job="mtls-clients"}:', JSON.stringify(folded));
  // Each labelled client's expiry; _OTHER holds the soonest of the folded ones (client-4's).
  const expiry = await waitForRows(
    'mtls_server_client_certificate_not_after{job="mtls-clients"}',
    ['mtls_client_id'],
    [
      ['client-1', notAfter[0]!],
      ['client-2', notAfter[1]!],
      ['client-3', notAfter[2]!],
      ['_OTHER', notAfter[3]!],
    ],
  );
  console.log('Prometheus query mtls_server_client_certificate_not_after{job="mtls-clients"}:', JSON.stringify(expiry));
  // The alert's expression, evaluated by the real Prometheus: client-1 (3 days) is named.
  const [soon, ...others] = await query('mtls_server_client_certificate_not_after{mtls_client_id!="_OTHER"} - time() < 7 * 86400');
  assert.deepEqual(others, []);
  assert.equal(soon!.metric.mtls_client_id, 'client-1');
  assert.ok(Number(soon!.value[1]) > 2 * 86_400 && Number(soon!.value[1]) <= 3 * 86_400, JSON.stringify(soon));
});

/** The `expr` of `alert` in docs/alerts.yml, as Prometheus loads it. */
async function ruleExpression(alert: string): Promise<string> {
  const text = await readFile(path.join(root, 'docs/alerts.yml'), 'utf8');
  const match = new RegExp(`- alert: ${alert}\\n +expr: \\|\\n((?: {10}.*\\n)+)`).exec(text);
  assert.ok(match, `no expr for ${alert}`);
  return match[1]!;
}

test('an unexpected identity from the real app: the MtlsUnexpectedIdentities expression finds it by mtls_unexpected_reason, and the alert fires', async () => {
  const outsider = await pki.ca.issue({
    subject: [{ type: 'CN', value: 'intruder' }],
    san: { uri: ['spiffe://example.org/ns/demo/sa/intruder'] },
  });
  // Verified (our CA issued it), so it is let in (observe mode) and counted; the expected client is not.
  assert.equal(await attempt(outsider), 200);
  assert.equal(await attempt(pki.clients.valid), 200);
  const counter = await waitForRows(
    'mtls_server_unexpected_identities_total{job="mtls-app"}',
    ['mtls_unexpected_reason', 'mtls_expected_mode'],
    [['spiffe_id', 'observe', '1']],
  );
  console.log('Prometheus query mtls_server_unexpected_identities_total{job="mtls-app"}:', JSON.stringify(counter));
  // The rule's own expression: the series is new, so its second branch gives the count.
  const expression = await ruleExpression('MtlsUnexpectedIdentities');
  const [row] = await waitForRows(expression, ['job', 'mtls_unexpected_reason'], [['mtls-app', 'spiffe_id', '1']]);
  assert.deepEqual(Object.keys(row!.metric).sort(), ['instance', 'job', 'mtls_unexpected_reason']);
  console.log('Prometheus query of the MtlsUnexpectedIdentities expression:', JSON.stringify(row));
  // No `for:`, so the rule fires at its next evaluation (every second here), with the reason in its labels.
  const [alert] = await waitForRows(
    'ALERTS{alertname="MtlsUnexpectedIdentities"}',
    ['alertstate', 'job', 'mtls_unexpected_reason', 'severity'],
    [['firing', 'mtls-app', 'spiffe_id', 'warning', '1']],
  );
  console.log('Prometheus query ALERTS{alertname="MtlsUnexpectedIdentities"}:', JSON.stringify(alert));
});
