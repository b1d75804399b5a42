/**
 * examples/otel as a user runs it: a child process with the SDK configured only by OTEL_*
 * variables, exporting OTLP/HTTP (JSON) to a local receiver. Needs `npm run build` (the example
 * imports the package by name, which resolves to dist/).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDevCertificates, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { getTestPki } from '../helpers/pki.js';
import { httpsRequest } from '../helpers/https.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let pki: DevCertificateSet;
let receiver: OtlpReceiver;
let dir: string;
let child: ChildProcess;
let output = '';
let port: number;

before(async () => {
  pki = await getTestPki();
  receiver = await startOtlpReceiver();
  dir = await mkdtemp(path.join(tmpdir(), 'mtls-otel-example-'));
  await writeDevCertificates(dir, pki);
  child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './examples/otel/instrumentation.ts', 'examples/otel/app.ts', dir],
    {
      cwd: root,
      env: {
        ...process.env,
        PORT: '0',
        OTEL_SERVICE_NAME: 'mtls-example',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_METRIC_EXPORT_INTERVAL: '500',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_NODE_RESOURCE_DETECTORS: 'none',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => (output += c));
  child.stderr!.on('data', (c: string) => (output += c));
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example did not start:\n${output}`)), 20_000);
    const check = () => {
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`example exited with ${code}:\n${output}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await receiver?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('examples/otel: access line, handshake-failure line, server span attributes and metrics over OTLP', async () => {
  const ok = await httpsRequest({ port, client: pki.clients.valid });
  assert.equal(ok.status, 200);
  await assert.rejects(httpsRequest({ port, client: pki.clients.expired }));

  await receiver.waitFor(() => /reason=CERT_HAS_EXPIRED/.test(output) && / 200 /.test(output), 'both log lines', 10_000);
  const lines = output.split('\n');
  assert.ok(lines.some((l) => /"GET \/ HTTP\/1\.1" 200 .* verify=SUCCESS subject="CN=alice,O=mtls-observability demo"/.test(l)), output);
  assert.ok(
    lines.some((l) => /^127\.0\.0\.1 - - \[[^\]]+\] "TLS handshake failed" outcome=rejected reason=CERT_HAS_EXPIRED verify=FAILED:CERT_HAS_EXPIRED /.test(l)),
    output,
  );

  await receiver.waitFor(() => receiver.spans.some((s) => s.kind === 2), 'the server span', 10_000);
  const span = receiver.spans.find((s) => s.kind === 2)!;
  const c = parseCertificate(pki.clients.valid.der);
  assert.equal(span.attributes['tls.client.subject'], c.subject);
  assert.equal(span.attributes['tls.client.issuer'], c.issuer);
  assert.equal(span.attributes['tls.client.hash.sha256'], c.fingerprint256);
  assert.equal(span.attributes['tls.client.not_after'], c.notAfter.toISOString());
  assert.equal(span.attributes['mtls.client.verify'], 'SUCCESS');

  const counted = () => {
    const last = receiver.metricExports.at(-1) ?? [];
    const rejected = last.find((p) => p.metric === 'mtls.server.handshakes' && p.attributes['error.type'] === 'CERT_HAS_EXPIRED');
    const requests = last.find((p) => p.metric === 'mtls.server.requests' && p.attributes['mtls.verify.result'] === 'success');
    return rejected?.value === 1 && requests?.value === 1;
  };
  await receiver.waitFor(counted, 'the counters over OTLP', 10_000);
  assert.deepEqual(receiver.rejected, []);
});
