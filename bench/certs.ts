/**
 * Certificates for the benchmark: a CA, a server certificate and a pool of client certificates that
 * all share one key pair (so a pool of thousands is quick to make), written to a directory that the
 * server and the load generator read.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export interface CertFiles {
  readonly dir: string;
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  /** Key shared by every client certificate. */
  readonly clientKeyPem: string;
  /** Client certificates, PEM; index 0 is "the same certificate" of the single-certificate modes. */
  readonly clientCertPems: readonly string[];
  /** Which generator made them. */
  readonly source: string;
}

export function readCertFiles(dir: string): CertFiles {
  return JSON.parse(readFileSync(join(dir, 'certs.json'), 'utf8')) as CertFiles;
}

/** Makes the set with the library's own generator (`mtls-observability/dev-certs`). */
async function fromDevCerts(dir: string, poolSize: number): Promise<CertFiles | undefined> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(new URL('../dist/dev-certs/index.js', import.meta.url).href)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const createCertificateAuthority = mod['createCertificateAuthority'] as
    | ((options?: unknown) => Promise<DevCa> | DevCa)
    | undefined;
  if (typeof createCertificateAuthority !== 'function') return undefined;
  const ca = await createCertificateAuthority({ subject: 'mtls-observability bench CA' });
  const server = await ca.issue({
    subject: 'localhost',
    san: { dns: ['localhost'], ip: ['127.0.0.1'] },
    extendedKeyUsage: ['serverAuth'],
  });
  // One key for the whole pool: signing is cheap, key generation is not.
  const keyPair = server.keyPair;
  const clientCertPems: string[] = [];
  let clientKeyPem = '';
  for (let i = 0; i < poolSize; i++) {
    const name = `client-${String(i).padStart(6, '0')}`;
    // A typical workload identity: O/OU/CN plus a SPIFFE ID, ~600 bytes of DER with EC P-256.
    const issued = await ca.issue({
      subject: [
        { type: 'C', value: 'US' },
        { type: 'O', value: 'Example Corp' },
        { type: 'OU', value: 'bench' },
        { type: 'CN', value: name },
      ],
      san: { uri: [`spiffe://example.org/ns/bench/sa/${name}`] },
      keyPair,
      serialNumber: 0x100000n + BigInt(i),
    });
    clientCertPems.push(issued.certPem);
    if (i === 0) clientKeyPem = issued.keyPem;
  }
  return {
    dir,
    caPem: ca.certPem,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    clientKeyPem,
    clientCertPems,
    source: 'mtls-observability/dev-certs',
  };
}

interface DevIssued {
  readonly keyPair: CryptoKeyPair;
  readonly certPem: string;
  readonly keyPem: string;
  readonly der: Uint8Array;
}
interface DevCa {
  readonly certPem: string;
  readonly keyPair: CryptoKeyPair;
  issue(options: Record<string, unknown>): Promise<DevIssued> | DevIssued;
}

/** Fallback while the library's generator is missing: the openssl command line. */
function fromOpenssl(dir: string, poolSize: number): CertFiles {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=bench-ca', '-days', '3');
  ossl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-out', 'server.pem', '-days', '3');
  ossl('req', ...ec, '-keyout', 'client.key', '-out', 'client0.csr', '-subj', '/CN=client-0');
  const clientCertPems: string[] = [];
  for (let i = 0; i < poolSize; i++) {
    ossl('req', '-new', '-key', 'client.key', '-out', 'c.csr', '-subj', `/C=US/O=Example Corp/OU=bench/CN=client-${i}`);
    ossl('x509', '-req', '-in', 'c.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(0x1000 + i), '-out', 'c.pem', '-days', '3');
    clientCertPems.push(readFileSync(join(dir, 'c.pem'), 'utf8'));
  }
  const rd = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caPem: rd('ca.pem'),
    serverCertPem: rd('server.pem'),
    serverKeyPem: rd('server.key'),
    clientKeyPem: rd('client.key'),
    clientCertPems,
    source: 'openssl (fallback)',
  };
}

export async function makeCertFiles(dir: string, poolSize: number): Promise<CertFiles> {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const files = (await fromDevCerts(dir, poolSize)) ?? fromOpenssl(dir, poolSize);
  writeFileSync(join(dir, 'certs.json'), JSON.stringify(files));
  return files;
}
