/**
 * The library's own cost per request, in one process, over real TLS sockets:
 *   node --expose-gc --import tsx bench/in-process.ts [--quick]
 * A TLS server on 127.0.0.1 and real `tls.connect` clients with client certificates (made with
 * mtls-observability/dev-certs); each measured request is a `new IncomingMessage(serverSocket)`
 * with its `ServerResponse`, built outside the timed region, and only the library runs timed:
 * `mtlsIdentity()` plus the `mtls-combined` format function as morgan calls it. Variants of a
 * section run in rotated order every round, so drift hits all alike. Sends
 * `{ type: 'in-process', report }` over IPC, or prints the report as JSON.
 */
import http from 'node:http';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import morgan from 'morgan';
import * as pkijs from 'pkijs';
import { context, trace, ROOT_CONTEXT, SpanKind, type Context } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { CertificateCache, getPeerIdentity, mtlsIdentity, registerMorganTokens, type MtlsIdentityMiddleware } from 'mtls-observability';
import { createCertificateAuthority, type DevCertificateAuthority } from 'mtls-observability/dev-certs';
import { halfIqr, median, percentile, rotate } from './stats.js';

export type CostKey = 'keepalive' | 'morganCombined' | 'newConnectionKnownCert' | 'getPeerCertificate' | 'newCertTypical' | 'newCertWorst' | 'metricsAdded' | 'tracingAdded' | 'pkijsParse';
export interface CostRow { readonly key: CostKey; readonly label: string; readonly medianMicros: number; readonly spreadMicros: number; readonly maxMicros: number; readonly samples: number; readonly timing: string /* how it was timed, short */ }
export interface InProcessReport { readonly rows: readonly CostRow[]; readonly notes: readonly string[] }

// ---- statistics (pure) ----

/** A row from per-sample (or per-batch mean) times in µs: median, half the IQR, max. */
export function costRow(key: CostKey, label: string, timing: string, micros: readonly number[]): CostRow {
  return { key, label, timing, medianMicros: median(micros), spreadMicros: halfIqr(micros), maxMicros: Math.max(...micros), samples: micros.length };
}

/**
 * What a variant adds: median(with) − median(without); spread and max of the per-round paired
 * differences (both ran in the same round).
 */
export function addedCostRow(key: CostKey, label: string, timing: string, withIt: readonly number[], without: readonly number[]): CostRow {
  const pairs = Math.min(withIt.length, without.length);
  const differences = Array.from({ length: pairs }, (_, i) => withIt[i]! - without[i]!);
  return { key, label, timing, medianMicros: median(withIt) - median(without), spreadMicros: halfIqr(differences), maxMicros: Math.max(...differences), samples: pairs };
}

/** µs per call of `n` calls of `call(i)` back to back. */
export function timeBatch(n: number, call: (i: number) => void): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) call(i);
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

// ---- distinct certificates (pure) ----

/** Offset and length of the serial number's content (Certificate → TBSCertificate → serial). */
export function serialSpan(der: Uint8Array): { readonly offset: number; readonly length: number } {
  let p = 0;
  const header = () => {
    const tag = der[p++]!;
    let length = der[p++]!;
    if (length & 0x80) for (let n = length & 0x7f, i = (length = 0); i < n; i++) length = length * 256 + der[p++]!;
    return { tag, length };
  };
  header();
  header();
  let field = header();
  if (field.tag === 0xa0) {
    p += field.length; // [0] version
    field = header();
  }
  if (field.tag !== 0x02) throw new Error(`expected the serial INTEGER, found tag ${field.tag}`);
  return { offset: p, length: field.length };
}

/**
 * A copy of `template` whose serial and signature end in `i` (4 bytes, big-endian): a distinct
 * certificate (parsing does not verify signatures; the certificate cache keys by the DER's end).
 */
export function derVariant(template: Uint8Array, serial: { readonly offset: number; readonly length: number }, i: number): Uint8Array {
  const der = Uint8Array.from(template);
  for (const end of [serial.offset + serial.length, der.length]) {
    der[end - 4] = i >>> 24;
    der[end - 3] = (i >>> 16) & 0xff;
    der[end - 2] = (i >>> 8) & 0xff;
    der[end - 1] = i & 0xff;
  }
  return der;
}

// ---- hostile certificates (pure): hand-built DER, the parser never checks signatures ----

function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  const n = parts.reduce((sum, part) => sum + part.length, 0);
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Uint8Array.of(tag, ...length), ...parts]);
}
const bytes = (...values: number[]) => Uint8Array.from(values);
/** A string value; a BMPString (0x1e) is UTF-16 big-endian. */
const text = (tag: number, value: string) => tlv(tag, tag === 0x1e ? Buffer.from(value, 'utf16le').swap16() : Buffer.from(value));
const CN = tlv(0x06, bytes(0x55, 0x04, 0x03));
const ECDSA_SHA256 = tlv(0x30, tlv(0x06, bytes(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02)));
const P256_KEY = tlv(0x30, tlv(0x30, tlv(0x06, bytes(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01)), tlv(0x06, bytes(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07))), tlv(0x03, bytes(0, 4, ...new Array<number>(64).fill(7))));
const SIGNATURE = tlv(0x03, bytes(0), tlv(0x30, tlv(0x02, new Uint8Array(32).fill(0x11)), tlv(0x02, new Uint8Array(32).fill(0x22))));
const SERIAL = bytes(0x01, ...new Array<number>(15).fill(0x5a));

/** A Name of one-attribute RDNs. */
function dn(...avas: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array {
  return tlv(0x30, ...avas.map(([type, value]) => tlv(0x31, tlv(0x30, type, value))));
}

function certificate(parts: { subject: Uint8Array; issuer?: Uint8Array; extensions?: readonly Uint8Array[]; serial?: Uint8Array }): Uint8Array {
  const validity = tlv(0x30, tlv(0x17, Buffer.from('260101000000Z')), tlv(0x17, Buffer.from('360101000000Z')));
  const extensions = parts.extensions === undefined ? [] : [tlv(0xa3, tlv(0x30, ...parts.extensions))];
  const tbs = tlv(0x30, tlv(0xa0, tlv(0x02, bytes(2))), tlv(0x02, parts.serial ?? SERIAL), ECDSA_SHA256, parts.issuer ?? parts.subject, validity, parts.subject, P256_KEY, ...extensions);
  return tlv(0x30, tbs, ECDSA_SHA256, SIGNATURE);
}

const san = (...names: Uint8Array[]) => tlv(0x30, tlv(0x06, bytes(0x55, 0x1d, 0x11)), tlv(0x04, tlv(0x30, ...names)));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The largest `build(n)` (n ≥ 1, size increasing with n) that is at most `limit` bytes. */
export function largestUnder(limit: number, build: (n: number) => Uint8Array): { readonly n: number; readonly der: Uint8Array } {
  if (build(1).length > limit) throw new Error(`even the smallest is over ${limit} bytes`);
  let lo = 1;
  let hi = 2;
  while (build(hi).length <= limit) hi *= 2;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (build(mid).length <= limit) lo = mid;
    else hi = mid;
  }
  return { n: lo, der: build(lo) };
}

/**
 * Self-issued certificates built to cost the parser and the log-safe formatting the most, each
 * grown to just under `limit` bytes (the library's default size cap); names go into subject and
 * issuer, lists to the parser's entry limits (1024 SANs, 128 name attributes).
 */
export function hostileCertificates(limit = 16_384): { readonly kind: string; readonly n: number; readonly der: Uint8Array }[] {
  const kinds: [string, (n: number) => Uint8Array][] = [
    ['1024 DNS SANs', (n) => certificate({ subject: dn([CN, text(0x0c, 'h')]), extensions: [san(...range(1024).map((i) => tlv(0x82, Buffer.from(`${i}.${'d'.repeat(n)}`))))] })],
    ['IPv6 SANs', (n) => certificate({ subject: dn([CN, text(0x0c, 'h')]), extensions: [san(...range(Math.min(n, 1024)).map((i) => tlv(0x87, bytes(0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(8).fill(0), i >> 8, i & 0xff, 0, 1))))] })],
    ['URI SANs of log-unsafe characters', (n) => certificate({ subject: dn([CN, text(0x0c, 'h')]), extensions: [san(...range(Math.min(n, 1024)).map((i) => tlv(0x86, Buffer.from(`https://h/${i}/"\\\x1b"\\\x1b`))))] })],
    ['CN of newlines', (n) => certificate({ subject: dn([CN, text(0x0c, '\n'.repeat(n))]) })],
    ['CN of U+202E', (n) => certificate({ subject: dn([CN, text(0x0c, '\u202e'.repeat(n))]) })],
    ['BMPString CN of U+2028', (n) => certificate({ subject: dn([CN, text(0x1e, '\u2028'.repeat(n))]) })],
    ['128 RDNs of escapes', (n) => certificate({ subject: dn(...range(128).map(() => [CN, text(0x0c, '\u2028,'.repeat(n))] as const)) })],
    ['attribute OIDs of 128-bit arcs', (n) => certificate({ subject: dn([tlv(0x06, bytes(0x2a, ...range(n).flatMap(() => [0x8f, ...new Array<number>(17).fill(0xff), 0x7f]))), text(0x0c, 'x')]) })],
    ['unknown extensions', (n) => certificate({ subject: dn([CN, text(0x0c, 'h')]), extensions: range(n).map((i) => tlv(0x30, tlv(0x06, bytes(0x2b, 6, 1, 4, 1, 0x81, 0x80 | (i >> 7), i & 0x7f)), tlv(0x04, bytes(5, 0)))) })],
    ['long serial', (n) => certificate({ subject: dn([CN, text(0x0c, 'h')]), serial: bytes(0x01, ...new Array<number>(n).fill(0x23)) })],
  ];
  return kinds.map(([kind, build]) => ({ kind, ...largestUnder(limit, build) }));
}

// ---- the harness ----

type FormatFunction = (tokens: unknown, req: http.IncomingMessage, res: http.ServerResponse) => unknown;
const noop = (): void => {};
const BATCH = 100;

/** A typical workload client certificate of about 1.1 KB: RSA-2048 (issued by an RSA CA), five RDNs, four SANs. */
export const TYPICAL_CLIENT = {
  subject: [
    { type: 'C', value: 'US' }, { type: 'L', value: 'San Francisco' }, { type: 'O', value: 'Example Corp' },
    { type: 'OU', value: 'payments' }, { type: 'CN', value: 'orders-api' },
  ],
  san: {
    dns: ['orders-api.payments.svc', 'orders-api.payments.svc.cluster.local'],
    uri: ['spiffe://example.org/ns/payments/sa/orders-api'], email: ['orders-api@example.org'],
  },
  keyType: 'rsa-2048',
} as const;

/** An RSA-2048 CA: its signature makes {@link TYPICAL_CLIENT} about 1.1 KB of DER. */
export function typicalCa(): Promise<DevCertificateAuthority> {
  return createCertificateAuthority({ subject: 'mtls-observability bench CA', keyType: 'rsa-2048' });
}

/** morgan with the library's tokens, and the format functions morgan itself would run (its getFormatFunction). */
export function morganFormats(): { readonly mtlsCombined: FormatFunction; readonly combined: FormatFunction } {
  registerMorganTokens(morgan);
  const named = (name: string): FormatFunction => {
    const format = (morgan as unknown as Record<string, unknown>)[name];
    return (typeof format === 'function' ? format : morgan.compile(format as string)) as FormatFunction;
  };
  return { mtlsCombined: named('mtls-combined'), combined: named('combined') };
}

/** A request on `socket` and its response, with what morgan's middleware records before a format runs. */
export function newRequest(socket: object): [http.IncomingMessage, http.ServerResponse] {
  const req = Object.assign(new http.IncomingMessage(socket as tls.TLSSocket), {
    method: 'GET', url: '/orders?id=42', httpVersionMajor: 1, httpVersionMinor: 1, httpVersion: '1.1',
    headers: { host: 'localhost', 'user-agent': 'bench/1.0', referer: 'https://localhost/' },
    _startAt: process.hrtime(), _startTime: new Date(), _remoteAddress: (socket as { remoteAddress?: string }).remoteAddress,
  });
  const res = new http.ServerResponse(req);
  res.setHeader('content-length', '2');
  res.writeHead(200);
  return [req, Object.assign(res, { _startAt: process.hrtime(), _startTime: new Date() })];
}

/** What the TLS source reads of a socket that presents `der` over TLS 1.3 (no handshake behind it). */
export function socketStub(der: Uint8Array, verified: boolean): object {
  return {
    encrypted: true, destroyed: false, remoteAddress: '127.0.0.1', authorized: verified,
    authorizationError: verified ? null : 'DEPTH_ZERO_SELF_SIGNED_CERT',
    getProtocol: () => 'TLSv1.3', getPeerCertificate: () => ({ raw: der }),
  };
}

/** A metric reader that exports nothing: instruments record, and `collect()` reads them. */
export class QuietReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const µs = (value: number) => value.toFixed(2);

async function main(): Promise<InProcessReport> {
  const quick = process.argv.includes('--quick');
  const notes: string[] = [];
  const rows: CostRow[] = [];
  const { mtlsCombined, combined } = morganFormats();
  const ca = await typicalCa();
  const serverCert = await ca.issue({ subject: 'localhost', san: { dns: ['localhost'], ip: ['127.0.0.1'] }, extendedKeyUsage: ['serverAuth'] });
  const client = await ca.issue(TYPICAL_CLIENT);

  // A TLS server and one client connection at a time; `connection()` resolves with the server's side once secure.
  let secured: (socket: tls.TLSSocket) => void = noop;
  const server = tls.createServer({ key: serverCert.keyPem, cert: serverCert.chainPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => secured(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const secureContext = tls.createSecureContext({ ca: ca.certPem, cert: client.certPem, key: client.keyPem });
  const connection = async (): Promise<{ socket: tls.TLSSocket; close: () => void }> => {
    const serverSide = new Promise<tls.TLSSocket>((resolve) => (secured = resolve));
    const clientSide = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext });
    clientSide.on('error', (error) => {
      throw error;
    });
    const socket = await serverSide;
    return { socket, close: () => (clientSide.destroy(), socket.destroy()) };
  };

  // ---- keep-alive: the identity is already on the connection ----
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ export: (_spans, done) => done({ code: 0 /* SUCCESS */ }), shutdown: () => Promise.resolve() })] });
  tracerProvider.register();
  const tracer = trace.getTracer('bench');
  const reader = new QuietReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const base = mtlsIdentity({ tracing: false, metrics: false });
  interface Variant { readonly name: string; readonly middleware?: MtlsIdentityMiddleware; readonly format: FormatFunction; readonly inSpan?: true }
  const variants: readonly Variant[] = [
    { name: 'keepalive', middleware: mtlsIdentity(), format: mtlsCombined },
    { name: 'morganCombined', format: combined },
    { name: 'base', middleware: base, format: mtlsCombined },
    { name: 'metrics', middleware: mtlsIdentity({ tracing: false, metrics: { meterProvider } }), format: mtlsCombined },
    { name: 'baseInSpan', middleware: base, format: mtlsCombined, inSpan: true },
    { name: 'tracing', middleware: mtlsIdentity({ metrics: false }), format: mtlsCombined, inSpan: true },
  ];
  const keep = await connection();
  const [probe, probeResponse] = newRequest(keep.socket);
  variants[0]!.middleware!(probe, probeResponse, noop);
  const verify = getPeerIdentity(probe)?.verify;
  if (verify !== 'SUCCESS') throw new Error(`the client was not verified: ${verify}`);
  notes.push(`connections: ${keep.socket.getProtocol()} ${keep.socket.getCipher().name}, the client sends its leaf (${client.der.length} B); server and client in this process`);
  const means = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  let spanChecked = false;
  const batch = ({ name, middleware, format, inSpan }: Variant): number => {
    const requests = range(BATCH).map(() => newRequest(keep.socket));
    const spans = inSpan ? range(BATCH).map(() => tracer.startSpan('GET /orders', { kind: SpanKind.SERVER })) : [];
    const contexts: Context[] = spans.map((span) => trace.setSpan(ROOT_CONTEXT, span));
    const one = (i: number) => {
      const [req, res] = requests[i]!;
      middleware?.(req, res, noop);
      format(morgan, req, res);
    };
    const micros = inSpan ? timeBatch(BATCH, (i) => context.with(contexts[i]!, one, undefined, i)) : timeBatch(BATCH, one);
    if (name === 'tracing' && !spanChecked) {
      const subject = (spans[BATCH - 1] as unknown as { attributes: Record<string, unknown> }).attributes['tls.client.subject'];
      if (subject !== 'CN=orders-api,OU=payments,O=Example Corp,L=San Francisco,C=US') throw new Error(`tracing wrote no identity to the span (tls.client.subject: ${String(subject)})`);
      spanChecked = true;
    }
    for (const span of spans) span.end();
    return micros;
  };
  const rounds = quick ? 50 : 600;
  for (let round = -20; round < rounds; round++) {
    for (const v of rotate(variants, round + 20)) {
      const micros = batch(v);
      if (round >= 0) means.get(v.name)!.push(micros);
    }
  }
  const { resourceMetrics } = await reader.collect();
  const counted = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'mtls.server.requests');
  if (counted === undefined || counted.dataPoints.length === 0) throw new Error('metrics recorded no mtls.server.requests');
  keep.close();
  const batched = `batches of ${BATCH} calls, each on its own request; median of ${rounds} batch means; max = slowest batch mean`;
  const paired = `${batched}; difference of medians, spread and max of the per-round differences`;
  const m = (name: string) => means.get(name)!;

  // ---- the first request on a new connection presenting a known certificate; getPeerCertificate() alone ----
  // Timed in batches over connections opened just before: timed singly right after its handshake,
  // a call also pays the caches the handshake evicted and the CPU's wake-up from the idle loop
  // (that figure goes to the notes).
  const keepalive = variants[0]!.middleware!;
  // A server that takes new connections all day runs this path optimized; a few hundred real
  // connections would leave it to V8's lower tiers, so it is warmed first on socket stubs.
  for (let i = 0; i < 5000; i++) {
    const [req, res] = newRequest(socketStub(client.der, true));
    keepalive(req, res, noop);
    mtlsCombined(morgan, req, res);
  }
  const PER_BATCH = 25;
  const connectionTasks = [
    { name: 'first request', warm: [] as number[], cold: [] as number[], prepare: (socket: tls.TLSSocket) => {
      const [req, res] = newRequest(socket);
      return () => (keepalive(req, res, noop), mtlsCombined(morgan, req, res));
    } },
    { name: 'getPeerCertificate()', warm: [] as number[], cold: [] as number[], prepare: (socket: tls.TLSSocket) => () => socket.getPeerCertificate() },
  ];
  const connectionRounds = quick ? 4 : 20;
  for (let round = -2; round < connectionRounds; round++) {
    for (const task of rotate(connectionTasks, round + 2)) {
      const opened: { socket: tls.TLSSocket; close: () => void }[] = [];
      for (let i = 0; i < PER_BATCH; i++) opened.push(await connection());
      const calls = opened.map((c) => task.prepare(c.socket));
      const warm = timeBatch(PER_BATCH, (i) => calls[i]!());
      opened.push(await connection());
      const cold = timeBatch(1, task.prepare(opened.at(-1)!.socket));
      if (round >= 0) {
        task.warm.push(warm);
        task.cold.push(cold);
      }
      for (const c of opened) c.close();
    }
  }
  const [firstRequests, peerReads] = connectionTasks;
  const connectionTiming = `batches of ${PER_BATCH} calls, one per connection opened just before, path warmed; median of ${connectionRounds} batch means; max = slowest batch mean`;
  notes.push(`keepalive − morganCombined (what the middleware and mtls-combined add over morgan's own combined line): ${µs(median(m('keepalive')) - median(m('morganCombined')))} µs`);
  for (const task of connectionTasks) notes.push(`${task.name} on a new connection, timed singly right after its handshake: median ${µs(median(task.cold))} µs, max ${µs(Math.max(...task.cold))} (${task.cold.length} connections)`);
  server.close();
  await tracerProvider.shutdown();

  // ---- new certificates: typical, hostile, pkijs ----
  const cache = new CertificateCache();
  const typical = client.der;
  const typicalSerial = serialSpan(typical);
  const hostileCache = new CertificateCache();
  const hostileMiddleware = mtlsIdentity({ certificates: { cache: hostileCache } });
  const hostile = hostileCertificates().map((h) => ({ ...h, serial: serialSpan(h.der), parses: [] as number[], requests: [] as number[] }));
  for (const h of hostile) cache.get(h.der, 'unverified'); // throws if a kind does not parse: it would measure the failure path
  const typicalMeans: number[] = [];
  const pkijsMeans: number[] = [];
  const PKIJS_BATCH = 10;
  let serial = 1;
  const tasks = [
    (record: boolean) => {
      const ders = range(BATCH).map(() => derVariant(typical, typicalSerial, serial++));
      const micros = timeBatch(BATCH, (i) => cache.get(ders[i]!, 'verified'));
      if (record) typicalMeans.push(micros);
    },
    (record: boolean) => {
      const micros = timeBatch(PKIJS_BATCH, () => pkijs.Certificate.fromBER(typical));
      if (record) pkijsMeans.push(micros);
    },
    ...hostile.map((h) => (record: boolean) => {
      const der = derVariant(h.der, h.serial, serial++);
      const parse = timeBatch(1, () => cache.get(der, 'unverified'));
      // The whole first request with this certificate: parse, then the identity's log fields.
      const [req, res] = newRequest(socketStub(derVariant(h.der, h.serial, serial++), false));
      const request = timeBatch(1, () => (hostileMiddleware(req, res, noop), mtlsCombined(morgan, req, res)));
      if (!record) return;
      h.parses.push(parse);
      h.requests.push(request);
    }),
  ];
  const certRounds = quick ? 30 : 300;
  for (let round = -10; round < certRounds; round++) for (const task of rotate(tasks, round + 10)) task(round >= 0);

  rows.push(
    costRow('keepalive', 'keep-alive request: mtlsIdentity() (defaults, no SDK meter provider, no active span) + mtls-combined', batched, m('keepalive')),
    costRow('morganCombined', "morgan's own combined format on the same request", batched, m('morganCombined')),
    costRow('newConnectionKnownCert', 'first request on a new TLS connection, certificate cached: mtlsIdentity() + mtls-combined', connectionTiming, firstRequests!.warm),
    costRow('getPeerCertificate', `socket.getPeerCertificate() alone on a new TLS connection (${client.der.length} B leaf)`, connectionTiming, peerReads!.warm),
    costRow('newCertTypical', `new certificate of ${typical.length} B (RSA-2048, 5 RDNs, 4 SANs): CertificateCache.get miss (parse, SHA-256, insert)`, `batches of ${BATCH} distinct DERs; median of ${certRounds} batch means; max = slowest batch mean`, typicalMeans),
  );
  const worst = hostile.reduce((a, b) => (median(b.parses) > median(a.parses) ? b : a));
  const maxOf = hostile.reduce((a, b) => (Math.max(...b.parses) > Math.max(...a.parses) ? b : a));
  const worstRow = costRow('newCertWorst', '', '', worst.parses);
  rows.push({
    ...worstRow,
    label: `worst of ${hostile.length} hostile kinds up to ${cache.maxCertificateBytes} B: ${worst.kind} (${worst.der.length} B); max from ${maxOf.kind}`,
    timing: `one call per distinct certificate, ${certRounds} per kind, kinds interleaved; median and spread of the worst kind, max over every sample of every kind`,
    maxMicros: Math.max(...maxOf.parses),
    samples: hostile.length * certRounds,
  });
  rows.push(
    addedCostRow('metricsAdded', 'metrics: { meterProvider } (real MeterProvider with a reader) added to a keep-alive request', paired, m('metrics'), m('base')),
    addedCostRow('tracingAdded', 'tracing: true with a recording span (NodeTracerProvider) added to a keep-alive request', `${paired}; both run each call inside context.with(its own span)`, m('tracing'), m('baseInSpan')),
    costRow('pkijsParse', `pkijs Certificate.fromBER of the same ${typical.length} B certificate`, `batches of ${PKIJS_BATCH} calls; median of ${certRounds} batch means; max = slowest batch mean`, pkijsMeans),
  );
  const spread = (micros: readonly number[]) => `${µs(median(micros))} / ${µs(percentile([...micros].sort((a, b) => a - b), 0.9))}`;
  notes.push('hostile kinds, µs median / p90: CertificateCache.get; whole first request (mtlsIdentity() + mtls-combined, unverified)');
  for (const h of hostile) notes.push(`  ${h.kind} (${h.der.length} B): ${spread(h.parses)}; ${spread(h.requests)}`);
  notes.push('single-call maxima include GC pauses and the host\'s scheduling noise');
  return { rows, notes };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await main();
  if (process.send) process.send({ type: 'in-process', report }, () => process.exit(0));
  else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`, () => process.exit(0));
}
