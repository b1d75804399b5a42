/**
 * One benchmark server: a child process serving one variant over HTTPS with mutual TLS.
 * Usage (from bench/run.ts): node --import tsx bench/server.ts <variant> <certDir>
 * Talks to the parent over IPC: it sends { type: 'ready', port } once listening and answers
 * { type: 'cpu' } with its process.cpuUsage() so the parent can charge CPU time to a window.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as Https from 'node:https';
import type Express from 'express';
import type Morgan from 'morgan';
import { readCertFiles } from './certs.js';
import { VARIANTS, type VariantName } from './variants.js';

const require = createRequire(import.meta.url);
const variantName = process.argv[2] as VariantName;
const certDir = process.argv[3]!;
const variant = VARIANTS[variantName];
if (!variant) throw new Error(`bench/server.ts: unknown variant ${String(variantName)}`);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

// The access log goes nowhere: the cost measured is formatting the line, not writing it.
const nullStream = new Writable({
  write(_chunk, _encoding, callback) {
    callback();
  },
});

/** A span exporter that drops everything: the cost measured is creating and ending spans. */
const nullSpanExporter = {
  export(_spans: unknown[], done: (result: { code: number }) => void) {
    done({ code: 0 });
  },
  shutdown: async () => {},
  forceFlush: async () => {},
};

async function startTracing(): Promise<void> {
  // Instrumentations patch http/https/express when they are require()d after this point.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
  const sdk = new NodeSDK({
    spanProcessors: [new BatchSpanProcessor(nullSpanExporter)],
    instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()],
    resourceDetectors: [],
  });
  sdk.start();
}

async function makeMeterProvider(): Promise<unknown> {
  const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = await import(
    '@opentelemetry/sdk-metrics'
  );
  // Export every 5 s into nothing: collection cost is paid as in production, output is dropped.
  const exporter = {
    export(_m: unknown, done: (r: { code: number }) => void) {
      done({ code: 0 });
    },
    shutdown: async () => {},
    forceFlush: async () => {},
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  };
  return new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 5000 })],
  });
}

/** The identity variants' certificate cache. */
let certificateCache: { parseCount: number } | undefined;

/** The MeterProvider of a metrics variant, also given to observeTlsServer (handshake metrics). */
let meterProvider: unknown;

async function buildHandler(): Promise<Handler> {
  if (variant.tracing) await startTracing();
  if (variant.kind === 'bare') {
    return (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    };
  }
  const express = require('express') as typeof Express;
  const morgan = require('morgan') as typeof Morgan;
  const lib = (await import('mtls-observability')) as Record<string, unknown>;
  const app = express();
  let format = 'combined';
  if (variant.identity) {
    const mtlsIdentity = lib['mtlsIdentity'] as ((o?: unknown) => Handler) | undefined;
    const registerMorganTokens = lib['registerMorganTokens'] as ((m: unknown, o?: unknown) => void) | undefined;
    if (typeof mtlsIdentity !== 'function' || typeof registerMorganTokens !== 'function') {
      throw new Error('library pieces missing: mtlsIdentity / registerMorganTokens not exported yet');
    }
    // The default cache, passed in so that its parse count can be reported (parses per request).
    const CertificateCache = lib['CertificateCache'] as new () => { parseCount: number };
    certificateCache = new CertificateCache();
    const options: Record<string, unknown> = { certificates: { cache: certificateCache } };
    if (variant.metrics) options['metrics'] = { meterProvider: (meterProvider = await makeMeterProvider()) };
    let middleware: Handler;
    try {
      middleware = mtlsIdentity(options);
    } catch (error) {
      throw new Error(`mtlsIdentity(${Object.keys(options).join(', ')}) refused: ${(error as Error).message}`, { cause: error });
    }
    app.use(middleware as never);
    registerMorganTokens(morgan);
    format = 'mtls-combined';
  }
  app.use(morgan(format as 'combined', { stream: nullStream }));
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  return app;
}

const handler = await buildHandler();
const https = require('node:https') as typeof Https;
const certs = readCertFiles(certDir);
const server = https.createServer(
  {
    key: certs.serverKeyPem,
    cert: certs.serverCertPem,
    ca: certs.caPem,
    requestCert: true,
    rejectUnauthorized: false,
    keepAliveTimeout: 60_000,
  },
  handler,
);
if (meterProvider !== undefined) {
  // The metrics variants count handshakes too, with failure lines to the (null) access log.
  const lib = (await import('mtls-observability')) as Record<string, unknown>;
  const observeTlsServer = lib['observeTlsServer'] as ((s: unknown, o: unknown) => unknown) | undefined;
  if (typeof observeTlsServer !== 'function') throw new Error('observeTlsServer is not exported');
  observeTlsServer(server, { metrics: { meterProvider }, log: nullStream });
}

// For profiles: how many requests the process served in all (BENCH_COUNT_REQUESTS=1; off by default
// so that the measured variants carry no extra listener).
let served = 0;
if (process.env['BENCH_COUNT_REQUESTS'] === '1') server.on('request', () => served++);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send?.({ type: 'ready', port });
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'cpu') {
    const m = process.memoryUsage();
    process.send?.({ type: 'cpu', cpu: process.cpuUsage(), rss: m.rss, heapUsed: m.heapUsed, parses: certificateCache?.parseCount ?? 0 });
  } else if (message.type === 'exit') {
    if (served) process.stderr.write(`bench: server ${variantName} served ${served} requests in all\n`);
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
