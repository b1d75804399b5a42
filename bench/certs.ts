/**
 * Certificates for the end-to-end run, made with the library's own generator: a CA, a server
 * certificate and a pool of client certificates sharing one key pair (so thousands are quick to
 * make), written to a directory that the servers and the load generator read.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority } from 'mtls-observability/dev-certs';

export interface CertFiles {
  readonly caPem: string;
  readonly serverCertPem: string;
  readonly serverKeyPem: string;
  /** The key of every client certificate. */
  readonly clientKeyPem: string;
  /** Index 0 is "the same certificate" of the single-certificate modes. */
  readonly clientCertPems: readonly string[];
}

export function readCertFiles(dir: string): CertFiles {
  return JSON.parse(readFileSync(join(dir, 'certs.json'), 'utf8')) as CertFiles;
}

export async function makeCertFiles(dir: string, poolSize: number): Promise<CertFiles> {
  const ca = await createCertificateAuthority({ subject: 'mtls-observability bench CA' });
  const server = await ca.issue({ subject: 'localhost', san: { dns: ['localhost'], ip: ['127.0.0.1'] }, extendedKeyUsage: ['serverAuth'] });
  const clients = [];
  for (let i = 0; i < poolSize; i++) {
    const name = `client-${String(i).padStart(6, '0')}`;
    // A typical workload identity: C/O/OU/CN and a SPIFFE ID.
    clients.push(
      await ca.issue({
        subject: [
          { type: 'C', value: 'US' },
          { type: 'O', value: 'Example Corp' },
          { type: 'OU', value: 'bench' },
          { type: 'CN', value: name },
        ],
        san: { uri: [`spiffe://example.org/ns/bench/sa/${name}`] },
        keyPair: server.keyPair,
        extendedKeyUsage: ['clientAuth'],
      }),
    );
  }
  const files: CertFiles = {
    caPem: ca.certPem,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    clientKeyPem: server.keyPem,
    clientCertPems: clients.map((c) => c.certPem),
  };
  writeFileSync(join(dir, 'certs.json'), JSON.stringify(files));
  return files;
}
