/**
 * Parse cost per new certificate and heap after many distinct certificates, through the library's
 * own cache path. A child process of bench/run.ts, started with --expose-gc:
 *   node --expose-gc --import tsx bench/memory.ts <certDir> <count>
 * Distinct certificates are made by writing a counter into the serial number of a template
 * certificate and into its signature's last bytes (parsing does not verify signatures; the
 * certificate cache finds entries by the DER's end, as real certificates differ there), one at a
 * time, so the harness itself keeps none.
 * Sends { type: 'memory', report } over IPC (or prints it without IPC).
 */
import type { MemoryReport } from './goals.js';

const count = Number(process.argv[3] ?? 100_000);
const SMALL = 1000;
const notes: string[] = [];

type PeerCertificate = { readonly serialNumber: string };
interface CacheLike {
  get(der: Uint8Array, trust: 'verified' | 'unverified'): PeerCertificate;
  readonly size: number;
  readonly maxEntries: number;
}

type Middleware = (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
const lib = (await import('mtls-observability')) as unknown as {
  parseCertificate(der: Uint8Array): PeerCertificate;
  CertificateCache?: new () => CacheLike;
  mtlsIdentity?: (options?: unknown) => Middleware;
};
const devCerts = (await import('mtls-observability/dev-certs')) as unknown as {
  createCertificateAuthority(o?: unknown): Promise<{ issue(o: unknown): Promise<{ der: Uint8Array }> }>;
};

// The template: a typical workload certificate with a 16-byte random serial (the generator's default).
const ca = await devCerts.createCertificateAuthority({ subject: 'mtls-observability bench CA' });
const template = (
  await ca.issue({
    subject: [
      { type: 'C', value: 'US' },
      { type: 'O', value: 'Example Corp' },
      { type: 'OU', value: 'bench' },
      { type: 'CN', value: 'client-template' },
    ],
    san: { uri: ['spiffe://example.org/ns/bench/sa/client-template'] },
  })
).der;

/** Offset and length of the serial number's content bytes (Certificate → TBSCertificate → serial). */
function serialSpan(der: Uint8Array): { offset: number; length: number } {
  let p = 0;
  const header = () => {
    const tag = der[p++]!;
    let len = der[p++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[p++]!;
    }
    return { tag, len };
  };
  header(); // Certificate SEQUENCE
  header(); // TBSCertificate SEQUENCE
  let h = header();
  if (h.tag === 0xa0) {
    p += h.len; // [0] version
    h = header();
  }
  if (h.tag !== 0x02) throw new Error(`expected the serial INTEGER, got tag ${h.tag}`);
  return { offset: p, length: h.len };
}
const serial = serialSpan(template);
if (serial.length < 5) throw new Error('template serial too short to vary');

/** A fresh copy of the template whose serial and signature end with `i` (4 bytes, big-endian). */
function distinctDer(i: number): Uint8Array {
  const der = Uint8Array.prototype.slice.call(template);
  for (const end of [serial.offset + serial.length, der.length]) {
    der[end - 4] = (i >>> 24) & 0xff;
    der[end - 3] = (i >>> 16) & 0xff;
    der[end - 2] = (i >>> 8) & 0xff;
    der[end - 1] = i & 0xff;
  }
  return der;
}

/** Median over batches of the mean µs per call; every call gets a certificate never seen before. */
function medianMicros(fn: (i: number) => unknown, start: number, batches: number, perBatch: number): number {
  const means: number[] = [];
  let i = start;
  for (let b = 0; b < batches; b++) {
    const ders = Array.from({ length: perBatch }, () => distinctDer(i++));
    const t0 = process.hrtime.bigint();
    for (const der of ders) fn(der as unknown as number);
    means.push(Number(process.hrtime.bigint() - t0) / 1000 / perBatch);
  }
  means.sort((a, b) => a - b);
  return means[means.length >> 1]!;
}

function heapMB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

// ---- parse cost ----
const parse = (der: unknown) => lib.parseCertificate(der as Uint8Array);
medianMicros(parse, 0x40000000, 20, 100); // warm-up
const parseMicros = medianMicros(parse, 0x50000000, 100, 100);

// ---- the cache path: miss (new certificate) and hit ----
const Cache = lib.CertificateCache;
if (!Cache) throw new Error('CertificateCache is not exported from the package root');
let probe: CacheLike | undefined = new Cache();
const missFn = (der: unknown) => probe!.get(der as Uint8Array, 'verified');
medianMicros(missFn, 0x60000000, 20, 100);
const missMicros = medianMicros(missFn, 0x70000000, 50, 100);
const known = distinctDer(1);
probe.get(known, 'verified');
const hitMeans: number[] = [];
for (let b = 0; b < 200; b++) {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < 1000; k++) probe.get(known, 'verified');
  hitMeans.push(Number(process.hrtime.bigint() - t0) / 1000 / 1000);
}
hitMeans.sort((a, b) => a - b);
const hitMicros = hitMeans[hitMeans.length >> 1]!;
probe = undefined;

// ---- the library's own cost per request on a known connection (the keep-alive path) ----
// In-process and deterministic, unlike the end-to-end windows: what mtlsIdentity() and the
// mtls-combined tokens add to one request whose connection was already identified.
const perRequest: Record<string, number> = {};
if (typeof lib.mtlsIdentity === 'function') {
  const { createRequire } = await import('node:module');
  const morgan = createRequire(import.meta.url)('morgan') as Record<string, unknown> & { token: unknown };
  const full = lib as unknown as { registerMorganTokens(m: unknown): void; MORGAN_TOKEN_NAMES: readonly string[] };
  full.registerMorganTokens(morgan);
  const tokens = full.MORGAN_TOKEN_NAMES.map((name) => morgan[name] as (req: unknown, res: unknown) => unknown);
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const x509 = { raw: template };
  const socket = { encrypted: true, authorized: true, destroyed: false, getProtocol: () => 'TLSv1.3', getPeerCertificate: () => x509 };
  const noop = () => {};
  // kind: 'known' = the same connection every time (keep-alive); 'reconnect' = a new connection
  // presenting the same certificate (certificate cache hit); 'new' = a new connection with a
  // certificate never seen before (parse).
  let serialCounter = 0x20000000;
  const measure = (mw: Middleware | undefined, withTokens: boolean, kind: 'known' | 'reconnect' | 'new'): number => {
    const one = () => {
      const conn =
        kind === 'known'
          ? socket
          : {
              encrypted: true,
              authorized: true,
              destroyed: false,
              getProtocol: () => 'TLSv1.3',
              getPeerCertificate: kind === 'new' ? ((d) => () => d)({ raw: distinctDer(serialCounter++) }) : () => x509,
            };
      const req = { socket: conn, httpVersionMajor: 1, headers: {}, method: 'GET', url: '/' };
      const res = { locals: {} };
      mw?.(req, res, noop);
      if (withTokens) for (const t of tokens) t(req, res);
    };
    const batches = kind === 'known' ? 100 : 40;
    const perBatch = kind === 'known' ? 1000 : 200;
    for (let i = 0; i < 5000; i++) one();
    const means: number[] = [];
    for (let b = 0; b < batches; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perBatch; i++) one();
      means.push(Number(process.hrtime.bigint() - t0) / 1000 / perBatch);
    }
    return median(means);
  };
  for (const kind of ['known', 'reconnect', 'new'] as const) {
    const baseline = measure(undefined, false, kind);
    const label = { known: 'known connection', reconnect: 'new connection, known certificate', new: 'new connection, new certificate' }[kind];
    perRequest[`${label}: identity + tokens`] = measure(lib.mtlsIdentity(), true, kind) - baseline;
    perRequest[`${label}: identity + tokens + metrics`] =
      measure(lib.mtlsIdentity({ metrics: { meterProvider: new MeterProvider() } }), true, kind) - baseline;
  }
}

// ---- per new connection: reading the peer certificate from a live TLS socket ----
// The TLS source reads the DER once per connection with getPeerCertificate() (its `raw`), compared
// here with getPeerX509Certificate(); their cost depends on how many certificates the client sent
// (leaf only, or leaf + chain).
const perConnection: Record<string, number> = {};
if (process.argv[2] && process.argv[2] !== 'x') {
  const tls = await import('node:tls');
  const { readCertFiles } = await import('./certs.js');
  const certs = readCertFiles(process.argv[2]);
  const samples: Record<string, number[]> = {};
  let label = '';
  const record = (name: string, fn: () => unknown) => {
    const t0 = process.hrtime.bigint();
    fn();
    (samples[`${label}: ${name}`] ??= []).push(Number(process.hrtime.bigint() - t0) / 1000);
  };
  let accepted = 0;
  const server = tls.createServer(
    { key: certs.serverKeyPem, cert: certs.serverCertPem, ca: certs.caPem, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      // Each call on its own fresh connection: the first call per connection is what the library pays.
      if (accepted++ % 2 === 0) record('getPeerCertificate().raw (the library)', () => socket.getPeerCertificate().raw);
      else record('getPeerX509Certificate().raw', () => socket.getPeerX509Certificate()?.raw);
      socket.end();
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  for (const [name, withChain] of [['leaf only', false], ['leaf + CA', true]] as const) {
    label = `client sends ${name}`;
    // With `ca` in its context, an OpenSSL client sends the chain it can build, as curl and Node clients do.
    const context = tls.createSecureContext({ key: certs.clientKeyPem, cert: certs.clientCertPems[0], ...(withChain ? { ca: certs.caPem } : {}) });
    for (let i = 0; i < 600; i++) {
      await new Promise<void>((resolve) => {
        const c = tls.connect({ host: '127.0.0.1', port, secureContext: context, rejectUnauthorized: false }, () => c.resume());
        c.on('close', () => resolve());
        c.on('error', () => resolve());
      });
    }
  }
  server.close();
  for (const [k, v] of Object.entries(samples)) perConnection[k] = median(v.slice(20));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

// ---- heap after SMALL and after `count` distinct certificates ----
// Through the middleware when it exists: each certificate arrives on its own (fake) TLS connection,
// so the per-connection cache and the certificate LRU both see 100,000 connections; the harness
// drops every connection, request and response right after the middleware ran.
const cache = new Cache();
let next = 0;
let feedOne: (der: Uint8Array) => void = (der) => cache.get(der, 'verified');
if (typeof lib.mtlsIdentity === 'function') {
  // Metrics on, with a real MeterProvider: the certificate-expiry gauges keep their own bounded
  // record of recently seen certificates, and it must be bounded too.
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const meterProvider = new MeterProvider();
  const middleware = lib.mtlsIdentity({ certificates: { cache }, metrics: { meterProvider } });
  const noop = () => {};
  feedOne = (der) => {
    const x509 = { raw: der };
    const socket = { encrypted: true, authorized: true, destroyed: false, getProtocol: () => 'TLSv1.3', getPeerCertificate: () => x509 };
    const req = { socket, httpVersionMajor: 1, headers: {}, method: 'GET', url: '/' };
    middleware(req, { locals: {} }, noop);
  };
  notes.push('heap measured through mtlsIdentity({ metrics: { meterProvider } }) with one fake TLS connection per certificate');
} else {
  notes.push('heap measured through CertificateCache.get (mtlsIdentity not available)');
}
const feed = (until: number) => {
  for (; next < until; next++) feedOne(distinctDer(next));
};
// The whole path once on a throwaway certificate (code and shape warm-up), then the empty baseline.
feedOne(distinctDer(0x7fffffff));
const heapEmptyMB = heapMB();
feed(SMALL);
const heapSmallMB = heapMB();
// A point past the metrics' record of recently seen certificates (10,000): from there on the heap
// should stay flat.
const MID = 20_000;
let heapMidMB: number | undefined;
if (count > MID) {
  feed(MID);
  heapMidMB = heapMB();
}
feed(count);
const heapLargeMB = heapMB();

const report: MemoryReport = {
  parseMicros,
  missMicros,
  hitMicros,
  smallCount: SMALL,
  largeCount: count,
  heapEmptyMB,
  heapSmallMB,
  ...(heapMidMB !== undefined ? { midCount: MID, heapMidMB } : {}),
  heapLargeMB,
  cacheEntries: cache.size,
  cacheCapacity: cache.maxEntries,
  perRequest,
  perConnection,
  notes,
};
if (process.send) {
  process.send({ type: 'memory', report });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
} else {
  console.log(JSON.stringify(report, null, 2));
}
