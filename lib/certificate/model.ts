/**
 * The full certificate model: the pkijs `Certificate` of a peer certificate, for apps that decide
 * on what the identity fields do not carry (certificate policies, extended key usage, custom
 * extensions). The identity fields themselves come from the strict DER reader; pkijs is loaded on
 * the first call only, so apps that never ask for the model never load it.
 */
import { createRequire } from 'node:module';
import type * as Pkijs from 'pkijs';
import { CertificateParseError } from '../errors.js';
import type { PeerCertificate } from './peer-certificate.js';

const requireFromHere = createRequire(import.meta.url);
let pkijs: typeof Pkijs | undefined;

// One model per certificate object, kept exactly as long as the certificate: the certificate
// cache hands every connection presenting the same DER the same object, so the model is shared too.
const models = new WeakMap<PeerCertificate, Pkijs.Certificate>();

/**
 * The pkijs `Certificate` of an identity's certificate (`res.locals.mtls`, `getPeerIdentity(req)`)
 * or of a {@link PeerCertificate}, built from its DER on first use and then the same object for
 * as long as the certificate lives. Treat it as read-only: it is shared by every request that
 * presents the certificate.
 *
 * ```ts
 * const model = certificateModel(res.locals.mtls);
 * const eku = model?.extensions?.find((e) => e.extnID === '2.5.29.37');
 * ```
 *
 * @returns `undefined` for `undefined` and for an identity without a certificate.
 * @throws {CertificateParseError} (`ERR_MTLS_CERT_PARSE`) when pkijs cannot read the DER, with
 *   pkijs's error as `cause`.
 * @throws {TypeError} for anything that is neither an identity nor a certificate.
 */
export function certificateModel(
  identityOrCertificate: PeerCertificate | { readonly certificate?: PeerCertificate } | undefined,
): Pkijs.Certificate | undefined {
  if (identityOrCertificate === undefined) return undefined;
  const certificate = certificateOf(identityOrCertificate);
  if (certificate === undefined) return undefined;
  let model = models.get(certificate);
  if (model === undefined) {
    pkijs ??= requireFromHere('pkijs') as typeof Pkijs;
    try {
      // A copy: pkijs keeps views of the buffer it reads, and the certificate's DER must not change through them.
      model = pkijs.Certificate.fromBER(new Uint8Array(certificate.der));
    } catch (error) {
      throw new CertificateParseError(`pkijs could not read the certificate: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    models.set(certificate, model);
  }
  return model;
}

function certificateOf(value: unknown): PeerCertificate | undefined {
  if (typeof value === 'object' && value !== null) {
    if ((value as Partial<PeerCertificate>).der instanceof Uint8Array) return value as PeerCertificate;
    if ('verify' in value || 'certificate' in value) {
      const certificate = (value as { certificate?: unknown }).certificate;
      if (certificate === undefined) return undefined;
      if (typeof certificate === 'object' && certificate !== null && (certificate as Partial<PeerCertificate>).der instanceof Uint8Array) {
        return certificate as PeerCertificate;
      }
    }
  }
  throw new TypeError('certificateModel(): expected a PeerIdentity (res.locals.mtls, getPeerIdentity(req)) or a PeerCertificate.');
}
