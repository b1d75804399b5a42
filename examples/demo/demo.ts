/**
 * `npm run demo`: an mTLS Express app with `mtlsIdentity()` and morgan's `mtls-combined` format,
 * driven by one client per outcome (valid, expired, untrusted CA, hostile subject, none). Prints
 * the access lines and one identity object, the handshake failures of a strict server, who is
 * calling (an unexpected client and a certificate rotation, as audit lines), and a metrics
 * snapshot, then exits.
 *
 * `npm run demo -- --serve [--port 8443]`: keeps the server running, writes the development
 * certificates to a temporary directory and prints curl commands that use them; Ctrl-C (SIGINT)
 * or SIGTERM stops it and removes that directory with its private keys.
 *
 * It imports the package by name, as an application would (resolved to dist/ by self-reference).
 */
import https from 'node:https';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import express from 'express';
import morgan from 'morgan';
import { IdentityRecord, mtlsIdentity, registerMorganTokens, type PeerIdentity } from 'mtls-observability';
// Handshake failures and metrics (observeTlsServer, OpenTelemetry SDK for the snapshot).
import net from 'node:net';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { observeTlsServer } from 'mtls-observability';
import {
  createDevCertificates,
  writeDevCertificates,
  type DevCertificate,
  type DevCertificateSet,
} from 'mtls-observability/dev-certs';

/** The clients the demo drives, in order; `undefined` presents no certificate. */
const CLIENTS: readonly { name: string; pick: (set: DevCertificateSet) => DevCertificate | undefined }[] = [
  { name: 'valid', pick: (set) => set.clients.valid },
  { name: 'expired', pick: (set) => set.clients.expired },
  { name: 'untrusted', pick: (set) => set.clients.untrusted },
  { name: 'hostile', pick: (set) => set.clients.hostile },
  { name: 'none', pick: () => undefined },
];

/** What each client's access line shows, printed above the lines. */
const CLIENT_NOTES: Readonly<Record<string, string>> = {
  valid: 'CN=alice from the trusted CA: verify=SUCCESS, every field, its SPIFFE ID',
  expired: 'trusted CA, past its notAfter: FAILED:CERT_HAS_EXPIRED, yet it reaches the app (rejectUnauthorized: false)',
  untrusted: 'issued by a CA the server does not trust: FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  hostile: 'verifies, but its CN holds a quote, a newline and a forged request line: escaped, it stays on its line',
  none: 'no certificate: verify=NONE and "-" for every certificate field',
};

/** `onIdentity` sees every resolved identity (the demo keeps one to print it). */
function createApp(onIdentity: (identity: PeerIdentity) => void = () => {}): express.Express {
  registerMorganTokens(morgan);
  const app = express();
  app.use(morgan('mtls-combined'));
  app.use(mtlsIdentity());
  app.get('/hello', (_req, res) => {
    const identity = res.locals.mtls;
    onIdentity(identity);
    res.json({
      verified: identity.verified,
      verify: identity.verify,
      subject: identity.certificate?.subject ?? null,
    });
  });
  return app;
}

function startServer(app: express.Express, pki: DevCertificateSet, port: number): Promise<https.Server> {
  // rejectUnauthorized: false lets failed verifications reach the app, so they are logged with
  // their reason; use mtlsIdentity({ require: true }) to refuse them with a 403.
  const server = https.createServer(
    {
      cert: pki.server.chainPem,
      key: pki.server.keyPem,
      ca: pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    },
    app,
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function request(port: number, path: string, pki: DevCertificateSet, client: DevCertificate | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    https
      .get(
        {
          host: '127.0.0.1',
          port,
          path,
          servername: 'localhost',
          ca: pki.ca.certPem,
          agent: false,
          ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
        },
        (res) => res.resume().on('end', resolve).on('error', reject),
      )
      .on('error', reject);
  });
}

/** An identity for reading, with the DER shortened to its length. */
function printable(identity: PeerIdentity): string {
  const { certificate, ...rest } = identity;
  const shown = certificate === undefined ? rest : { ...rest, certificate: { ...certificate, der: `<${certificate.der.length} bytes>` } };
  return inspect(shown, { depth: 6, breakLength: 110, compact: 4, colors: false });
}

async function runOnce(pki: DevCertificateSet): Promise<void> {
  // Metrics: an SDK registered globally; mtlsIdentity() and observeTlsServer() find it lazily.
  const reader = new SnapshotReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  let valid: PeerIdentity | undefined;
  const app = createApp((identity) => {
    if (identity.verify === 'SUCCESS') valid ??= identity;
  });
  const server = await startServer(app, pki, 0);
  const { port } = server.address() as AddressInfo;
  console.log(`mtls-observability demo: Express + mtlsIdentity() + morgan('mtls-combined') on https://127.0.0.1:${port}\n`);
  console.log('Clients, one request each:');
  for (const { name } of CLIENTS) console.log(`  ${name.padEnd(10)} ${CLIENT_NOTES[name] ?? ''}`);
  console.log('\nAccess log (mtls-combined: Apache combined, then verify, subject, issuer, serial, not_after, spiffe, fingerprint):\n');
  for (const { name, pick } of CLIENTS) await request(port, `/hello?client=${name}`, pki, pick(pki));
  // Let morgan's 'finish' listeners write before the next section.
  await new Promise((resolve) => setImmediate(resolve));
  console.log('\nres.locals.mtls for the valid client (what route handlers read; der shortened):\n');
  console.log(valid === undefined ? '(none)' : printable(valid));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await showHandshakeFailures(app, pki);
  await showWhoIsCalling(pki);
  await showMetricsSnapshot(reader);
  await meterProvider.shutdown();
}

// --- Handshake failures and metrics ----------------------------------------------------------

/** Collects on demand, for the snapshot. */
class SnapshotReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * A second server that refuses unverified clients during the handshake (rejectUnauthorized: true):
 * those never reach the app, so observeTlsServer() writes a line for each, beside the access log.
 */
async function showHandshakeFailures(app: express.Express, pki: DevCertificateSet): Promise<void> {
  const server = https.createServer(
    { cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true },
    app,
  );
  const observer = observeTlsServer(server, { log: process.stdout });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  console.log(`\nHandshake failures on a rejectUnauthorized: true server (https://127.0.0.1:${port}), from observeTlsServer():`);
  console.log('these clients never become requests; outcome=rejected is a refused certificate, outcome=failed');
  console.log('something else (here a TCP health check that closes without a handshake):\n');
  for (const name of ['valid', 'expired', 'untrusted', 'none']) {
    const client = CLIENTS.find((c) => c.name === name)!.pick(pki);
    await request(port, `/hello?client=${name}`, pki, client).catch(() => {});
  }
  // A load balancer's TCP health check: connect, then close without a handshake.
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end());
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.detach();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/**
 * Expected identities in observe mode and the audit record: alice is expected, a deployer from
 * another namespace is not (counted, reported once, still served), and billing rotates from one
 * certificate to a new one with the same subject.
 */
async function showWhoIsCalling(pki: DevCertificateSet): Promise<void> {
  const identities = new IdentityRecord({ maxEntries: 1000 });
  const app = express();
  app.use(morgan('mtls-combined'));
  app.use(
    mtlsIdentity({
      expected: { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/demo/sa/*'] },
      audit: { record: identities, log: process.stdout },
    }),
  );
  app.get('/hello', (_req, res) => res.send('hello'));
  const server = await startServer(app, pki, 0);
  const { port } = server.address() as AddressInfo;
  const workload = (cn: string, serialNumber: bigint, spiffeId: string) =>
    pki.ca.issue({ subject: [{ type: 'O', value: 'Example' }, { type: 'CN', value: cn }], serialNumber, san: { uri: [spiffeId] } });
  const deployer = await workload('deployer', 0x0d01n, 'spiffe://example.org/ns/ci/sa/deployer');
  const billingOld = await workload('billing', 0x0an, 'spiffe://example.org/ns/demo/sa/billing');
  const billingNew = await workload('billing', 0x0bn, 'spiffe://example.org/ns/demo/sa/billing');
  console.log(
    `\nWho is calling (https://127.0.0.1:${port}): expected: { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/demo/sa/*'] },` +
      ' audit: { log: process.stdout }; access and audit lines:\n',
  );
  for (const [name, client] of [
    ['valid', pki.clients.valid],
    ['deployer', deployer],
    ['deployer', deployer],
    ['billing-old', billingOld],
    ['billing-new', billingNew],
  ] as const) {
    await request(port, `/hello?client=${name}`, pki, client);
    await new Promise((resolve) => setImmediate(resolve));
  }
  console.log('\nidentities.snapshot() (serve it on an admin route that requires an admin identity):\n');
  for (const seen of identities.snapshot()) {
    console.log(`  ${seen.subject}  serial=${seen.serialNumber}  spiffe=${seen.spiffeId ?? '-'}  requests=${seen.requests}`);
  }
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The library's metrics as Prometheus would scrape them (scope labels left out for reading). */
async function showMetricsSnapshot(reader: MetricReader): Promise<void> {
  const { resourceMetrics } = await reader.collect();
  const text = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics);
  console.log('\nMetrics snapshot (OpenTelemetry SDK, Prometheus text format): requests by verify result, handshakes');
  console.log('by outcome and reason, and the expiry of the verified certificates seen; never a subject or serial:\n');
  for (const line of text.split('\n')) {
    if (line.startsWith('mtls_') && !line.includes('_bucket{')) console.log(line);
  }
}

async function serve(pki: DevCertificateSet, port: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mtls-observability-demo-'));
  await writeDevCertificates(dir, pki);
  const server = await startServer(createApp(), pki, port);
  const actual = (server.address() as AddressInfo).port;
  const curl = (name: string) =>
    'curl --cacert ca.pem' +
    (name === 'none' ? '' : ` --cert client-${name}.pem --key client-${name}-key.pem`) +
    ` https://localhost:${actual}/hello`;
  console.log(`mtls-observability demo serving https://localhost:${actual} (Ctrl-C to stop)\n`);
  console.log(`Development certificates are in ${dir}; try:\n\n  cd ${dir}`);
  for (const name of ['valid', 'expired', 'untrusted', 'hostile', 'not-yet-valid', 'self-signed', 'wrong-eku', 'none']) {
    console.log(`  ${curl(name)}`);
  }
  console.log('\nAccess log:');
  const stop = () => {
    // The directory holds unencrypted private keys: never leave it behind.
    rmSync(dir, { recursive: true, force: true });
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { serve: { type: 'boolean' }, port: { type: 'string' } },
  });
  const pki = await createDevCertificates();
  if (values.serve === true) {
    const port = values.port === undefined ? 8443 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`demo: --port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`);
      process.exitCode = 2;
      return;
    }
    await serve(pki, port);
  } else {
    await runOnce(pki);
  }
}

await main();
