/**
 * The identity's log fields, in one place: the `peer_cert_*` values the morgan tokens print, the
 * identity part of an `mtls-json` line, and {@link mtlsLogFields} for structured loggers (pino,
 * winston). All of them are built here, once per certificate, so the three cannot drift apart.
 *
 * Every value is log-safe (lib/internal/log-safe.ts) and every identity field is cut to
 * `MAX_LOG_FIELD_LENGTH` with a visible marker, once per certificate: a client controls its
 * certificate, and a certificate of many kilobytes must not become kilobytes per logged request.
 */
import type { IncomingMessage } from 'node:http';
import {
  hasLogUnsafe,
  hexEscapeLogUnsafe,
  percentEncodeCharacter,
  replaceLogUnsafe,
  stringifyLogSafe,
  truncateLogField,
  truncatePercentEncoded,
} from '../internal/log-safe.js';
import { logDate } from '../internal/log-date.js';
import { peekPeerIdentity } from '../identity/registry.js';
import type { PeerIdentity } from '../identity/peer-identity.js';
import type { PeerCertificate } from '../certificate/peer-certificate.js';

/**
 * Token names and what they print. Every value is safe inside a quoted field of a text log line
 * on every morgan version: distinguished names keep their RFC 4514 escapes (`\"`, `\\`, control
 * and invisible characters as `\0A`), and URIs and verify results are percent-encoded where a
 * character is not allowed in a URI. Each is at most `MAX_LOG_FIELD_LENGTH` characters plus the
 * truncation marker (before morgan 1.12's own escaping of `\` and `"`).
 */
export const MORGAN_TOKEN_NAMES = [
  'peer_cert_subject',
  'peer_cert_issuer',
  'peer_cert_serial',
  'peer_cert_fingerprint',
  'peer_cert_verify',
  'peer_cert_not_after',
  'peer_cert_spiffe',
] as const;

/** One of {@link MORGAN_TOKEN_NAMES}. */
export type MorganTokenName = (typeof MORGAN_TOKEN_NAMES)[number];

/** The certificate's token values (`peer_cert_verify` comes from the identity). */
export type CertificateFields = { readonly [K in Exclude<MorganTokenName, 'peer_cert_verify'>]: string | undefined };

/**
 * The flat, log-safe fields of a request's identity, as `mtls-json` writes them and
 * {@link mtlsLogFields} returns them. Absent values are left out: no certificate, no
 * `peer_cert_subject`; a verified one, no `peer_cert_reason`.
 */
export interface MtlsLogFields {
  /** `SUCCESS`, `NONE` or `FAILED:<reason>`. */
  readonly peer_cert_verify?: string;
  /** Why verification failed or no certificate was seen: a stable code (`CERT_HAS_EXPIRED`, `CERT_MISSING`, ...). */
  readonly peer_cert_reason?: string;
  /** Where the identity came from: `tls` or the proxy format (`nginx`, `envoy-xfcc`, ...). */
  readonly peer_cert_source?: string;
  /** The subject distinguished name (RFC 4514, log-safe escapes kept). */
  readonly peer_cert_subject?: string;
  /** The issuer distinguished name. */
  readonly peer_cert_issuer?: string;
  /** The serial number, uppercase hex. */
  readonly peer_cert_serial?: string;
  /** SHA-256 of the DER, uppercase hex. */
  readonly peer_cert_fingerprint?: string;
  /** End of validity, ISO 8601 UTC. */
  readonly peer_cert_not_after?: string;
  /** The single `spiffe://` URI SAN. */
  readonly peer_cert_spiffe?: string;
}

const NO_CERTIFICATE_FIELDS: CertificateFields = Object.freeze({
  peer_cert_subject: undefined,
  peer_cert_issuer: undefined,
  peer_cert_serial: undefined,
  peer_cert_fingerprint: undefined,
  peer_cert_not_after: undefined,
  peer_cert_spiffe: undefined,
});

// A certificate's fields are computed once and shared by every connection that presents it (the
// certificate cache hands out one object). Nothing is cached per identity: with a new connection
// per request, a per-identity entry would be one more short-lived WeakMap key per connection.
const certificateFieldsCache = new WeakMap<PeerCertificate, CertificateFields>();

/** The certificate's morgan token values (text-line forms), cached per certificate. */
export function certificateFieldsOf(certificate: PeerCertificate | undefined): CertificateFields {
  if (certificate === undefined) return NO_CERTIFICATE_FIELDS;
  let fields = certificateFieldsCache.get(certificate);
  if (fields === undefined) {
    fields = {
      peer_cert_subject: logSafeName(certificate.subject),
      peer_cert_issuer: logSafeName(certificate.issuer),
      peer_cert_serial: logSafeUri(certificate.serialNumber),
      peer_cert_fingerprint: logSafeUri(certificate.fingerprint256),
      peer_cert_not_after: logDate(certificate.notAfter),
      peer_cert_spiffe: certificate.spiffeId === undefined ? undefined : logSafeUri(certificate.spiffeId),
    };
    certificateFieldsCache.set(certificate, fields);
  }
  return fields;
}

// `verify` takes few distinct values (SUCCESS, NONE, FAILED:<code>); their encodings are kept, a bounded number.
const MAX_VERIFY_VALUES = 256;
const verifyFields = new Map<string, string>();

/** The `peer_cert_verify` token value (percent-encoded where a URI does not allow the character). */
export function verifyFieldOf(verify: string): string {
  let field = verifyFields.get(verify);
  if (field === undefined) {
    field = logSafeUri(verify);
    if (verifyFields.size < MAX_VERIFY_VALUES) verifyFields.set(verify, field);
  }
  return field;
}

/**
 * A distinguished name as logs and spans show it: parseCertificate already writes names with
 * log-safe escapes; this keeps them so whatever produced the identity. Then bounded.
 */
function logSafeName(name: string): string {
  return truncateLogField(hexEscapeLogUnsafe(name));
}

// Characters never allowed in a URI (RFC 3986 section 2): controls, space, `"`, `<`, `>`, `\`,
// `^`, backquote, `{`, `|`, `}` and everything outside ASCII, which includes every log-unsafe
// character. `%` stays, so an already encoded URI is not encoded twice.
const NOT_URI_SAFE = /[^\u0021\u0023-\u003b\u003d\u003f-\u005b\u005d\u005f\u0061-\u007a\u007e]/u;
const NOT_URI_SAFE_GLOBAL = /[^\u0021\u0023-\u003b\u003d\u003f-\u005b\u005d\u005f\u0061-\u007a\u007e]/gu;

/** A URI-like value (SPIFFE ID, serial, verify result) percent-encoded where a URI does not allow the character, then bounded. */
function logSafeUri(value: string): string {
  const encoded = NOT_URI_SAFE.test(value) ? value.replace(NOT_URI_SAFE_GLOBAL, percentEncodeCharacter) : value;
  return truncatePercentEncoded(encoded);
}

/** The certificate's JSON fields: the token values, but the SPIFFE ID as it is (JSON escapes it, a text line needs %XX). */
function certificateJsonFieldsOf(certificate: PeerCertificate): CertificateFields {
  return {
    ...certificateFieldsOf(certificate),
    peer_cert_spiffe: certificate.spiffeId === undefined ? undefined : truncateLogField(certificate.spiffeId),
  };
}

/** The verdict's fields: what the identity says, whatever the certificate. */
function verdictFieldsOf(identity: PeerIdentity): Pick<MtlsLogFields, 'peer_cert_verify' | 'peer_cert_reason' | 'peer_cert_source'> {
  return {
    peer_cert_verify: truncateLogField(identity.verify),
    peer_cert_reason: identity.reason === undefined ? undefined : truncateLogField(identity.reason),
    peer_cert_source: truncateLogField(identity.source),
  };
}

// The certificate's part of an `mtls-json` line, serialized once per certificate:
// `,"peer_cert_subject":…` up to `peer_cert_spiffe`, or '' when every field is absent.
const certificateJsonCache = new WeakMap<PeerCertificate, string>();

/** `record`'s members as log-safe JSON with a leading comma, to append to an object; '' when none. */
function jsonMembers(record: object): string {
  const json = stringifyLogSafe(record);
  return json.length > 2 ? `,${json.slice(1, -1)}` : '';
}

/**
 * The identity's members of an `mtls-json` line, as log-safe JSON with a leading comma (to append
 * to the request's object). The certificate's part is serialized once per certificate.
 */
export function identityJsonMembers(identity: PeerIdentity): string {
  const verdict = jsonMembers(verdictFieldsOf(identity));
  const certificate = identity.certificate;
  if (certificate === undefined) return verdict;
  let json = certificateJsonCache.get(certificate);
  if (json === undefined) {
    json = jsonMembers(certificateJsonFieldsOf(certificate));
    certificateJsonCache.set(certificate, json);
  }
  return `${verdict}${json}`;
}

// A logger writes the values with its own JSON escaping, which leaves some log-unsafe characters
// raw (U+2028, bidirectional controls, DEL), so no value may contain one: a URI-like value is
// percent-encoded there (names are already escaped, the other values are codes, hex and dates).
const certificateLogFieldsCache = new WeakMap<PeerCertificate, Readonly<MtlsLogFields>>();

function withoutUndefined(record: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(record)) {
    if (value !== undefined) out[key] = hasLogUnsafe(value) ? replaceLogUnsafe(value, percentEncodeCharacter) : value;
  }
  return out;
}

/**
 * The identity fields of the request's access-log entry, for a structured logger (pino,
 * pino-http, winston): the same flat, log-safe, bounded fields as an `mtls-json` line
 * (`peer_cert_verify`, `peer_cert_reason`, `peer_cert_source`, `peer_cert_subject`,
 * `peer_cert_issuer`, `peer_cert_serial`, `peer_cert_fingerprint`, `peer_cert_not_after`,
 * `peer_cert_spiffe`), absent values left out. No value contains a character that splits or hides
 * part of a line, whatever the logger's JSON escaping.
 *
 * It reads the identity `mtlsIdentity()` (or `getPeerIdentity()`) attached to the request and
 * never the socket, so behind a trusted proxy it is the middleware's verdict or nothing. Before
 * either ran for the request it returns `{}`: call it when the response is written (pino-http's
 * `customSuccessObject` and `customErrorObject`, express-winston's `dynamicMeta`).
 *
 * @returns a new object each call, which the caller may extend.
 */
export function mtlsLogFields(req: IncomingMessage): MtlsLogFields {
  let identity: PeerIdentity | undefined;
  try {
    identity = peekPeerIdentity(req);
  } catch {
    identity = undefined;
  }
  if (identity === undefined) return {};
  const verdict = withoutUndefined(verdictFieldsOf(identity));
  const certificate = identity.certificate;
  if (certificate === undefined) return verdict;
  let fields = certificateLogFieldsCache.get(certificate);
  if (fields === undefined) {
    fields = Object.freeze(withoutUndefined(certificateJsonFieldsOf(certificate)));
    certificateLogFieldsCache.set(certificate, fields);
  }
  return { ...verdict, ...fields };
}
