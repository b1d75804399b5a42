/**
 * Heap after many distinct client certificates, through the middleware's own path:
 *   node --expose-gc --import tsx bench/memory.ts [--quick]
 * Each certificate arrives on its own connection (a socket stub that presents the DER, as a TLS
 * socket does) and its request runs `mtlsIdentity()` (its own CertificateCache, metrics on a real
 * MeterProvider) and the `mtls-combined` format; the harness keeps nothing, so what stays on the
 * heap is what the library keeps. Distinct certificates are copies of a template with a counter in
 * their serial number and signature. Sends `{ type: 'memory', report }` over IPC, or prints it.
 */
import { CertificateCache, certificateCacheWeight, mtlsIdentity, parseCertificate } from 'mtls-observability';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import morgan from 'morgan';
import { derVariant, hostileCertificates, morganFormats, newRequest, QuietReader, serialSpan, socketStub, TYPICAL_CLIENT, typicalCa } from './in-process.js';

export interface MemorySeries { readonly label: string; readonly certificateBytes: number; readonly points: readonly { readonly count: number; readonly heapMB: number }[] }
export interface MemoryReport { readonly series: readonly MemorySeries[]; readonly cache: { readonly entries: number; readonly maxEntries: number; readonly bytes?: number; readonly maxBytes?: number }; readonly notes: readonly string[] }

const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

async function heapMB(): Promise<number> {
  if (gc === undefined) throw new Error('run with --expose-gc');
  // A turn of the event loop first: a WeakRef keeps its target alive until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 4; i++) gc();
  return Math.round((process.memoryUsage().heapUsed / MB) * 10) / 10;
}

/** Feeds distinct variants of `template`, one request each, and reads the heap at each of `counts`. */
async function feed(label: string, template: Uint8Array, counts: readonly number[]): Promise<{ series: MemorySeries; cache: CertificateCache }> {
  const { mtlsCombined } = morganFormats();
  const cache = new CertificateCache();
  const middleware = mtlsIdentity({ certificates: { cache }, metrics: { meterProvider: new MeterProvider({ readers: [new QuietReader()] }) } });
  const serial = serialSpan(template);
  const points: { count: number; heapMB: number }[] = [];
  let fed = 0;
  for (const count of counts) {
    for (; fed < count; fed++) {
      const [req, res] = newRequest(socketStub(derVariant(template, serial, fed), true));
      middleware(req, res, () => {});
      mtlsCombined(morgan, req, res);
    }
    points.push({ count, heapMB: await heapMB() });
  }
  return { series: { label, certificateBytes: template.length, points }, cache };
}

const quick = process.argv.includes('--quick');
const ca = await typicalCa();
const typical = (await ca.issue(TYPICAL_CLIENT)).der;
// The hostile kind the cache's own accounting finds heaviest per entry.
const heaviest = hostileCertificates()
  .map((h) => ({ ...h, weight: certificateCacheWeight(parseCertificate(h.der)) }))
  .reduce((a, b) => (b.weight > a.weight ? b : a));

const notes: string[] = [];
const typicalRun = await feed(`typical ${typical.length} B certificates (RSA-2048, verified)`, typical, quick ? [0, 1000, 5000] : [0, 1000, 10_000, 100_000]);
notes.push(
  'with metrics on, the expiry instruments also remember recent verified certificates (bounded: lib/outputs/certificate-expiry.ts), ' +
    "so the heap grows past the cache's bound until that record is full",
);
notes.push(`typical series: cache ends with ${typicalRun.cache.size} of ${typicalRun.cache.maxEntries} entries, ${(typicalRun.cache.bytes / MB).toFixed(2)} of ${typicalRun.cache.maxBytes / MB} MiB accounted`);
typicalRun.cache.clear();
const hostileRun = await feed(`hostile ${heaviest.der.length} B certificates (${heaviest.kind}, verified)`, heaviest.der, quick ? [0, 1000, 3000] : [0, 1000, 10_000]);
const { cache } = hostileRun;
const points = hostileRun.series.points;
notes.push(
  `hostile series: each entry accounted at ${heaviest.weight} B; heap growth ${(points.at(-1)!.heapMB - points[0]!.heapMB).toFixed(1)} MB ` +
    `for ${(cache.bytes / MB).toFixed(2)} MiB accounted in ${cache.size} entries (verified certificates get the larger budget; unverified ones get ${cache.maxUnverifiedEntries} entries / ${cache.maxUnverifiedBytes / MB} MiB)`,
  `node ${process.version}; heapUsed after 4 forced GCs; ${quick ? 'quick run' : 'default run'}`,
);
const report: MemoryReport = {
  series: [typicalRun.series, hostileRun.series],
  cache: { entries: cache.size, maxEntries: cache.maxEntries, bytes: cache.bytes, maxBytes: cache.maxBytes },
  notes,
};
if (process.send) process.send({ type: 'memory', report }, () => process.exit(0));
else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`, () => process.exit(0));
