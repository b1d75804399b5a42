/**
 * One end-to-end server: a child process serving one variant (bench/variants.ts) over HTTPS with
 * mutual TLS. `node --import tsx bench/server.ts <variant> <certDir>`. Over IPC it sends
 * { type: 'ready', port } once listening and answers { type: 'cpu' } with its CPU clock, so the
 * parent charges each window what the server spent.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import express, { type RequestHandler } from 'express';
import morgan from 'morgan';
import * as pkijs from 'pkijs';
import { CertificateCache, mtlsIdentity, observeTlsServer, registerMorganTokens } from 'mtls-observability';
import { readCertFiles } from './certs.js';
import { VARIANTS, type VariantName } from './variants.js';

const require = createRequire(import.meta.url);
const variant = process.argv[2] as VariantName;
if (!(variant in VARIANTS)) throw new Error(`bench/server.ts: unknown variant ${variant}`);
const certs = readCertFiles(process.argv[3]!);

// The access log goes nowhere: the cost measured is making the line, not writing it.
const nowhere = new Writable({ write: (_chunk, _encoding, done) => done() });

/** The common recipe: tokens that ask Node for the peer certificate on every request. */
function registerHandTokens(): void {
  morgan.token('client-subject', (req: IncomingMessage) => {
    const subject = (req.socket as TLSSocket).getPeerCertificate().subject as Record<string, string> | undefined;
    return subject ? Object.entries(subject).map(([k, v]) => `${k}=${v}`).join(', ') : undefined;
  });
  morgan.token('client-serial', (req: IncomingMessage) => (req.socket as TLSSocket).getPeerCertificate().serialNumber);
}
/** morgan's own combined line, followed by the recipe's two fields. */
const HAND_FORMAT = `${(morgan as unknown as Record<string, string>)['combined']} subject=":client-subject" serial=:client-serial`;

/** A naive identity middleware: pkijs parses the peer certificate on every request. */
const naivePkijs: RequestHandler = (req, res, next) => {
  const raw = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined;
  if (raw) {
    const cert = pkijs.Certificate.fromBER(raw);
    res.locals['subject'] = cert.subject.typesAndValues.map((tv) => `${tv.type}=${String(tv.value.valueBlock.value)}`).join(', ');
    res.locals['serial'] = Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex');
  }
  next();
};

let cache: CertificateCache | undefined;
let meterProvider: unknown;
const app = express();
let format: string = 'combined';
if (variant === 'mtls' || variant === 'mtlsMetrics') {
  // The default cache's size and limits, passed in so that its parse count can be reported.
  cache = new CertificateCache();
  if (variant === 'mtlsMetrics') {
    const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = await import('@opentelemetry/sdk-metrics');
    // Collected and exported as in production, into nothing.
    const exporter = {
      export: (_m: unknown, done: (r: { code: number }) => void) => done({ code: 0 }),
      shutdown: async () => {},
      forceFlush: async () => {},
      selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
    };
    meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 5000 })] });
  }
  app.use(mtlsIdentity({ certificates: { cache }, ...(meterProvider ? { metrics: { meterProvider: meterProvider as never } } : {}) }));
  registerMorganTokens(morgan);
  format = 'mtls-combined';
} else if (variant === 'handTokens' || variant === 'certAuth' || variant === 'naivePkijs') {
  if (variant === 'certAuth') app.use((require('client-certificate-auth') as (check: () => boolean) => RequestHandler)(() => true));
  if (variant === 'naivePkijs') {
    app.use(naivePkijs);
    morgan.token('client-subject', (_req, res: ServerResponse & { locals?: Record<string, string> }) => res.locals?.['subject']);
    morgan.token('client-serial', (_req, res: ServerResponse & { locals?: Record<string, string> }) => res.locals?.['serial']);
  } else {
    registerHandTokens();
  }
  format = HAND_FORMAT;
}
app.use(morgan(format, { stream: nowhere }));
app.get('/', (_req, res) => {
  res.send('ok');
});

const server = https.createServer(
  { key: certs.serverKeyPem, cert: certs.serverCertPem, ca: certs.caPem, requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 60_000 },
  app,
);
// With metrics the handshakes are counted too, as a user of metrics would.
if (meterProvider) observeTlsServer(server, { metrics: { meterProvider: meterProvider as never }, log: nowhere });
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as { port: number }).port });
});
process.on('message', (m: { type: string }) => {
  if (m.type === 'cpu') {
    const cpu = process.cpuUsage();
    process.send?.({ type: 'cpu', micros: cpu.user + cpu.system, parses: cache?.parseCount ?? 0 });
  } else if (m.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
