/**
 * Memory held by hostile client certificates: what one rendered hostile name retains, and what a
 * server keeps after many connections from an unauthenticated client that presents a new hostile
 * certificate on each (`rejectUnauthorized: false`, `require: true`, so every request gets a 403).
 *
 *   node --expose-gc --import tsx bench/hostile-memory.ts [--connections N] [--kind huge|dense]
 *
 * `huge`: self-signed certificates of about 58 KB whose subject (and so issuer) is one CN of
 * 29,000 control characters. `dense`: certificates just under 16 KiB whose subject is packed with
 * characters that escape to 9 or 12 bytes and that carry many SANs. Prints one JSON report; the
 * server runs in this process, so the heap figures are the server's (each client certificate is
 * dropped once its request ended).
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { escapeAttributeValue } from '../lib/certificate/distinguished-name.js';
import { mtlsIdentity } from '../lib/middleware.js';
import { CertificateCache } from '../lib/certificate/cache.js';
import { createDevCertificates, createSelfSignedCertificate, generateDevKeyPair, type DevCertificate } from '../lib/dev-certs/index.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    kind: { type: 'string', default: 'huge' },
  },
});
const connections = Number(values.connections);
const kind = values.kind === 'dense' ? 'dense' : 'huge';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
function heap(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}
const MB = 1024 * 1024;

// ---- one escaped hostile name ----
// Each value is built from a fresh buffer, so nothing is shared between the kept strings.
const KEPT = 50;
const before = heap();
const kept: string[] = [];
for (let i = 0; i < KEPT; i++) kept.push(escapeAttributeValue(Buffer.alloc(29_000, 1 + (i % 31)).toString('latin1')));
const retainedPerName = (heap() - before) / KEPT;
kept.length = 0;

// ---- a server under the flood ----
const pki = await createDevCertificates();
const keyPair = await generateDevKeyPair();
const certificates = new CertificateCache();
const middleware = mtlsIdentity({ require: true, certificates: { cache: certificates }, tracing: false, metrics: false });
const server = https.createServer(
  { cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false },
  (req, res) => middleware(req, res, () => res.end('ok')),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

function hostile(i: number): Promise<DevCertificate> {
  if (kind === 'huge') {
    return createSelfSignedCertificate({ subject: String.fromCharCode(1 + (i % 31)).repeat(29_000), keyPair });
  }
  // U+202E (3 UTF-8 bytes, escaped as 9 characters) and a tag character (4 bytes, 12 characters).
  const value = `${i}:` + '\u202e\u{e0041}'.repeat(470);
  return createSelfSignedCertificate({
    subject: [{ type: 'O', value }, { type: 'CN', value }],
    san: { dns: Array.from({ length: 150 }, (_, n) => `h${n}.${i}.example`) },
    keyPair,
  });
}

function request(client: DevCertificate): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/', ca: pki.ca.certPem, servername: 'localhost', cert: client.certPem, key: client.keyPem, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

// Warm-up: code, TLS contexts and the first allocations, then the baseline.
await request(await hostile(-1));
const heapBefore = heap();
const rssBefore = process.memoryUsage().rss;
const statuses = new Map<string, number>();
let certificateBytes = 0;
for (let i = 0; i < connections; i++) {
  const client = await hostile(i);
  certificateBytes = client.der.length;
  const { status, body } = await request(client);
  const verify = (JSON.parse(body) as { verify?: string }).verify ?? '';
  const key = `${status} ${verify}`;
  statuses.set(key, (statuses.get(key) ?? 0) + 1);
}
const heapAfter = heap();
const rssAfter = process.memoryUsage().rss;
server.close();

console.log(
  JSON.stringify(
    {
      kind,
      connections,
      certificateBytes,
      retainedPerEscapedNameKB: +(retainedPerName / 1024).toFixed(1),
      responses: Object.fromEntries(statuses),
      cacheEntries: certificates.size,
      cacheAccountedMB: +(certificates.bytes / MB).toFixed(2),
      heapGrowthMB: +((heapAfter - heapBefore) / MB).toFixed(1),
      rssBeforeMB: +(rssBefore / MB).toFixed(0),
      rssAfterMB: +(rssAfter / MB).toFixed(0),
    },
    null,
    2,
  ),
);
