/**
 * A trusted client certificate that is large but under a 16 KiB certificate limit (about 14 KB
 * of DER): the material of log and trace amplification tests.
 */
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';

/** Its SPIFFE ID: 1,521 characters. */
export const LARGE_SPIFFE_ID = `spiffe://example.org/${'p'.repeat(1500)}`;

/** Its fixed serial number, as printed. */
export const LARGE_SERIAL = '0123456789ABCDEF0123456789ABCDEF';

/**
 * Issued by the PKI's trusted CA: a CN of 5,500 newline+letter pairs, rendered `\0Aa` each (a
 * 22,029-character subject with `,O=mtls-observability demo`), {@link LARGE_SPIFFE_ID} and 12 more
 * URI SANs.
 */
export function issueLargeClient(pki: DevCertificateSet): Promise<DevCertificate> {
  return pki.ca.issue({
    subject: [
      { type: 'O', value: 'mtls-observability demo' },
      { type: 'CN', value: '\na'.repeat(5500) },
    ],
    serialNumber: BigInt(`0x${LARGE_SERIAL}`),
    san: { uri: [LARGE_SPIFFE_ID, ...Array.from({ length: 12 }, (_, i) => `https://example.org/${'u'.repeat(64)}/${i}`)] },
  });
}
