/**
 * The development PKI for tests, generated once per test-file process (Node's test runner runs each
 * file in its own process) and shared by every test in it.
 */
import { createDevCertificates, type DevCertificate, type DevCertificateSet } from '../../lib/dev-certs/index.js';

let pending: Promise<DevCertificateSet> | undefined;

/** The memoized {@link DevCertificateSet}: CA, server and one client per failure mode. */
export function getTestPki(): Promise<DevCertificateSet> {
  pending ??= createDevCertificates();
  return pending;
}

/** When the {@link issueExampleClient} certificates expire: fixed, so exact expected lines can name it. */
export const EXAMPLE_CLIENT_NOT_AFTER = new Date('2030-01-01T00:00:00Z');

/**
 * A client certificate `O=Example, CN=<cn>` with the given serial and SPIFFE URI, issued by the
 * test CA with the valid client's key (no key generation per certificate).
 */
export async function issueExampleClient(cn: string, serialNumber: bigint, uri: string): Promise<DevCertificate> {
  const pki = await getTestPki();
  return pki.ca.issue({
    subject: [
      { type: 'O', value: 'Example' },
      { type: 'CN', value: cn },
    ],
    serialNumber,
    san: { uri: [uri] },
    notAfter: EXAMPLE_CLIENT_NOT_AFTER,
    keyPair: pki.clients.valid.keyPair,
  });
}
