/**
 * What `JSON.stringify` writes for a certificate: a compact object, so `res.json(res.locals.mtls)`
 * and structured loggers print something a reader can use. The certificate object carries this as
 * a non-enumerable `toJSON`, so comparing, spreading and freezing it work as on a plain object.
 */
import { logDate } from '../internal/log-date.js';
import { percentEncodeCharacter, replaceLogUnsafe } from '../internal/log-safe.js';
import type { PeerCertificate, SubjectAltNames } from './peer-certificate.js';

/**
 * The JSON form of a {@link PeerCertificate}: its identity fields as strings, dates as ISO 8601
 * UTC. Left out:
 * - `der`: logs should not carry whole certificates (a client chooses its certificate, and every
 *   logged request would carry all of it); `fingerprint256` names the certificate, and the DER
 *   stays on the object for code that needs it;
 * - `subjectAttributes`: its values are unescaped by design, and `subject` says the same with
 *   log-safe escapes.
 *
 * Like every output of the library it never carries a log-unsafe character raw, also where a
 * JSON writer would leave one (U+0085, U+2028, invisible characters): `subject` and `issuer` are
 * log-safe already, and the SAN strings (IA5String, so such a character only comes from a
 * malformed certificate) have them percent-encoded.
 */
export interface PeerCertificateJson {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  /** ISO 8601 UTC; left out only when the object holds no valid date (one built by hand). */
  readonly notBefore?: string;
  /** ISO 8601 UTC; left out only when the object holds no valid date (one built by hand). */
  readonly notAfter?: string;
  readonly san: SubjectAltNames;
  readonly spiffeId?: string;
}

// Computed once per certificate object: a structured logger may serialise the identity on every request.
const jsonCache = new WeakMap<PeerCertificate, PeerCertificateJson>();

/** The {@link PeerCertificateJson} of `certificate`, whether or not it carries its own `toJSON`; frozen. */
export function certificateJson(certificate: PeerCertificate): PeerCertificateJson {
  let json = jsonCache.get(certificate);
  if (json === undefined) {
    const { san } = certificate;
    json = Object.freeze({
      subject: certificate.subject,
      issuer: certificate.issuer,
      serialNumber: certificate.serialNumber,
      fingerprint256: certificate.fingerprint256,
      notBefore: logDate(certificate.notBefore),
      notAfter: logDate(certificate.notAfter),
      san: Object.freeze({ dns: logSafeList(san.dns), uri: logSafeList(san.uri), email: logSafeList(san.email), ip: logSafeList(san.ip) }),
      ...(certificate.spiffeId === undefined ? {} : { spiffeId: logSafeText(certificate.spiffeId) }),
    });
    jsonCache.set(certificate, json);
  }
  return json;
}

function logSafeText(value: string): string {
  return replaceLogUnsafe(value, percentEncodeCharacter);
}

function logSafeList(values: readonly string[]): readonly string[] {
  return Object.freeze(values.map(logSafeText));
}

// One function shared by every certificate, not a closure per object.
function certificateToJson(this: PeerCertificate): PeerCertificateJson {
  return certificateJson(this);
}

/**
 * Gives `certificate` its non-enumerable `toJSON` (before it is frozen); a certificate that has
 * one, or can no longer take one, is left as it is.
 */
export function withCertificateJson<C extends PeerCertificate>(certificate: C): C {
  if (Object.isExtensible(certificate) && !Object.prototype.hasOwnProperty.call(certificate, 'toJSON')) {
    Object.defineProperty(certificate, 'toJSON', { value: certificateToJson, enumerable: false, writable: false, configurable: false });
  }
  return certificate;
}
