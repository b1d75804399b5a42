/**
 * Certificate parsing micro-benchmark: `node --import tsx bench/parse.ts [--quick]`.
 *
 * Median µs per call (200 batches after a warm-up; per-call time per batch; median of the batch
 * means) for pkijs 4 `Certificate.fromBER`, Node's `new X509Certificate` and our
 * `parseCertificate`, on an RSA-2048 and an EC P-256 client certificate from lib/dev-certs/;
 * asn1js 4 `fromBER` on just the subject Name and the SAN extension, to show what decoding only
 * the slices with asn1js would cost; then every hostile input of
 * test/helpers/certificate-vectors.ts (up to 64 KiB, parsed with the size limit raised above them, so
 * the parser's own work is measured) with its median and worst time.
 */
import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { parseCertificate } from '../lib/certificate/parse.js';
import { createCertificateAuthority } from '../lib/dev-certs/index.js';
import { HOSTILE_MAX_BYTES, hostileInputs } from '../test/helpers/certificate-vectors.js';

const quick = process.argv.includes('--quick');
const BATCHES = quick ? 40 : 200;

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median per-call µs; the batch size is chosen so a batch takes about 2 ms. */
function measure(action: () => unknown): number {
  let batch = 1;
  for (let warm = performance.now(); performance.now() - warm < (quick ? 100 : 300); ) action();
  for (;;) {
    const started = performance.now();
    for (let i = 0; i < batch; i++) action();
    if (performance.now() - started > 2 || batch >= 4096) break;
    batch *= 2;
  }
  const means: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const started = performance.now();
    for (let i = 0; i < batch; i++) action();
    means.push(((performance.now() - started) * 1000) / batch);
  }
  return medianOf(means);
}

const ca = await createCertificateAuthority({ subject: [{ type: 'C', value: 'US' }, { type: 'O', value: 'Acme' }, { type: 'CN', value: 'Acme Issuing CA' }] });
const clientOptions = {
  subject: [{ type: 'C', value: 'US' }, { type: 'O', value: 'Acme' }, { type: 'OU', value: 'Payments' }, { type: 'CN', value: 'alice' }],
  san: { dns: ['alice.example.org'], uri: ['spiffe://example.org/ns/default/sa/alice'], email: ['alice@example.org'], ip: ['10.0.0.7'] },
} as const;
const certificates = {
  'RSA-2048': (await ca.issue({ ...clientOptions, keyType: 'rsa-2048' })).der,
  'EC P-256': (await ca.issue({ ...clientOptions, keyType: 'ec-p256' })).der,
};

const rows: string[][] = [['operation', ...Object.entries(certificates).map(([name, der]) => `${name} (${der.length} B)`)]];
const row = (name: string, action: (der: Uint8Array) => unknown) =>
  rows.push([name, ...Object.values(certificates).map((der) => measure(() => action(der)).toFixed(1))]);

row('pkijs Certificate.fromBER', (der) => pkijs.Certificate.fromBER(der));
row('new X509Certificate', (der) => new X509Certificate(der));
row('parseCertificate (DER)', (der) => parseCertificate(der));
const pems = new Map(Object.values(certificates).map((der) => [der, `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`]));
row('parseCertificate (PEM)', (der) => parseCertificate(pems.get(der)!));
// What decoding the slices with asn1js would add: the subject Name and the SAN extension value.
const slices = new Map(
  Object.values(certificates).map((der) => {
    const certificate = pkijs.Certificate.fromBER(der);
    const san = certificate.extensions!.find((extension) => extension.extnID === '2.5.29.17')!;
    return [der, { subject: new Uint8Array(certificate.subject.valueBeforeDecode), san: new Uint8Array(san.extnValue.valueBlock.valueHexView) }];
  }),
);
row('asn1js fromBER of subject + SAN slices', (der) => {
  const slice = slices.get(der)!;
  asn1js.fromBER(slice.subject);
  asn1js.fromBER(slice.san);
});

const width = rows[0]!.map((_, column) => Math.max(...rows.map((r) => r[column]!.length)));
console.log('median µs per call');
for (const r of rows) console.log(r.map((cell, column) => (column === 0 ? cell.padEnd(width[column]!) : cell.padStart(width[column]!))).join('  '));

console.log('\nhostile inputs (ms: median of 31 runs after one warm-up run, worst of all 32)');
let worstMedian = 0;
let worstName = '';
for (const { name, input } of hostileInputs()) {
  const times: number[] = [];
  let outcome = '';
  for (let run = 0; run < 32; run++) {
    const started = performance.now();
    try {
      parseCertificate(input, { maxBytes: HOSTILE_MAX_BYTES });
      outcome = 'parsed';
    } catch (error) {
      outcome = (error as Error).message;
    }
    times.push(performance.now() - started);
  }
  const median = medianOf(times.slice(1));
  if (median > worstMedian) {
    worstMedian = median;
    worstName = name;
  }
  console.log(`  ${name.padEnd(40)} ${String(input.length).padStart(6)} B  ${median.toFixed(2).padStart(6)}  ${Math.max(...times).toFixed(2).padStart(6)}  ${outcome.slice(0, 60)}`);
}
console.log(`worst median over hostile inputs: ${worstMedian.toFixed(2)} ms (${worstName})`);
