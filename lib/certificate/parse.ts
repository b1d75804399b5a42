/**
 * `parseCertificate`: DER or PEM to a {@link PeerCertificate}, the project's one certificate
 * parser. It reads X.509 (RFC 5280 section 4.1) with the strict DER scanner in `der.ts` by
 * offsets, without building an object per ASN.1 block, because every new client certificate is
 * parsed on a connection's first request (bench/parse.ts measures it; docs/identity-format.md
 * gives the output's rules).
 */
import { hash } from 'node:crypto';
import { CertificateParseError, CertificateTooLargeError } from '../errors.js';
import { decodeLatin1, decodeObjectIdentifier, expectElement, readElement, validateDerTree, type DerElement } from './der.js';
import { hexByte, toHex } from './hex.js';
import { decodeName } from './distinguished-name.js';
import { formatIpAddress } from './ip-address.js';
import { withCertificateJson } from './json.js';
import { isIntegerInRange, validateOptions, type OptionCheck } from '../internal/options.js';
import type { PeerCertificate, SubjectAltNames } from './peer-certificate.js';

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';
const ANY_PEM_BEGIN = /-----BEGIN ([^\r\n-]*)-----/;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Default largest certificate accepted, in bytes of DER: 16 KiB. Real client and server
 * certificates stay well below (a few hundred bytes to a few KiB, also with long SAN lists), and
 * TLS sends each certificate of a chain separately, so the limit applies per certificate.
 */
export const DEFAULT_MAX_CERTIFICATE_BYTES = 16_384;

/** Smallest and largest value accepted for a certificate size limit. */
export const CERTIFICATE_BYTES_RANGE = Object.freeze({ min: 256, max: 1_048_576 });

/** The check for an option holding a certificate size limit. */
export const isCertificateByteLimit: OptionCheck = isIntegerInRange(CERTIFICATE_BYTES_RANGE.min, CERTIFICATE_BYTES_RANGE.max);

/** Options of {@link parseCertificate}. */
export interface ParseCertificateOptions {
  /**
   * Largest certificate accepted, in bytes of DER (for PEM input, of the decoded body). A larger
   * one throws {@link CertificateTooLargeError} (`ERR_MTLS_CERT_TOO_LARGE`) and is not parsed.
   * An integer from 256 to 1048576. Default: `16384` ({@link DEFAULT_MAX_CERTIFICATE_BYTES}).
   */
  readonly maxBytes?: number;
}

const PARSE_OPTION_CHECKS: { readonly [K in keyof ParseCertificateOptions]-?: OptionCheck } = {
  maxBytes: isCertificateByteLimit,
};

/**
 * Parses one X.509 certificate.
 *
 * - `Uint8Array` (a `Buffer` too): exactly one DER-encoded certificate, nothing after it.
 * - `string`: PEM (RFC 7468). Text before the first `-----BEGIN CERTIFICATE-----` is ignored,
 *   CRLF line ends are accepted, and of several certificates the first (the leaf) is parsed.
 *
 * Signatures are not verified: this reads identity, it does not establish trust. Hostile input
 * costs bounded time and memory: the size limit (`options.maxBytes`), the limits on names and
 * SAN lists (`MAX_NAME_ATTRIBUTES`, {@link MAX_SUBJECT_ALT_NAMES}) and flat strings, so
 * the result's size is linear in the input's.
 *
 * @throws {CertificateParseError} (`ERR_MTLS_CERT_PARSE`) for any malformed input, with a
 *   message naming the problem and its offset, or its subclass {@link CertificateTooLargeError}
 *   (`ERR_MTLS_CERT_TOO_LARGE`) for input over the size limit; never any other error for bad input.
 * @throws {TypeError} for invalid `options` (a programmer mistake).
 */
export function parseCertificate(input: Uint8Array | string, options?: ParseCertificateOptions): PeerCertificate {
  const maxBytes =
    options === undefined
      ? DEFAULT_MAX_CERTIFICATE_BYTES
      : (validateOptions<ParseCertificateOptions>('parseCertificate()', options, PARSE_OPTION_CHECKS).maxBytes ??
        DEFAULT_MAX_CERTIFICATE_BYTES);
  return parseCertificateWithin(input, maxBytes);
}

/**
 * {@link parseCertificate} with an already validated size limit: the certificate cache's path,
 * which checks its options once at construction.
 */
export function parseCertificateWithin(input: Uint8Array | string, maxBytes: number): PeerCertificate {
  try {
    return parseDer(toDer(input, maxBytes));
  } catch (error) {
    if (error instanceof CertificateParseError) throw error;
    // Only a bug could land here; still nothing but CertificateParseError may escape.
    throw new CertificateParseError(`certificate could not be parsed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function toDer(input: Uint8Array | string, maxBytes: number): Uint8Array {
  if (typeof input === 'string') return decodePem(input, maxBytes);
  if (!(input instanceof Uint8Array)) {
    const got = input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input;
    throw new CertificateParseError(`expected DER bytes (Uint8Array) or a PEM string, got ${got}`);
  }
  // Before the copy: an oversized input costs nothing but this comparison.
  if (input.byteLength > maxBytes) throw new CertificateTooLargeError(input.byteLength, maxBytes);
  // A plain copy: the caller's buffer (often a slice of a pooled socket buffer) may be reused,
  // and slice() on a Buffer would return a Buffer view type again.
  return new Uint8Array(input);
}

function decodePem(text: string, maxBytes: number): Uint8Array {
  if (text.length === 0) throw new CertificateParseError('empty input');
  const begin = text.indexOf(PEM_BEGIN);
  if (begin < 0) {
    const other = ANY_PEM_BEGIN.exec(text);
    if (other) throw new CertificateParseError(`PEM label is "${other[1]!.slice(0, 40)}", expected "CERTIFICATE"`);
    throw new CertificateParseError('no "-----BEGIN CERTIFICATE-----" line in the PEM input');
  }
  const bodyStart = begin + PEM_BEGIN.length;
  const end = text.indexOf(PEM_END, bodyStart);
  if (end < 0) throw new CertificateParseError('no "-----END CERTIFICATE-----" line after "-----BEGIN CERTIFICATE-----"');
  // RFC 7468 section 3: base64 lines separated by line breaks; tolerate spaces and tabs as well.
  const body = text.slice(bodyStart, end).replace(/[ \t\r\n]+/g, '');
  if (body.length === 0) throw new CertificateParseError('empty PEM body');
  if (body.length % 4 !== 0 || !BASE64_BODY.test(body)) throw new CertificateParseError('PEM body is not valid base64');
  // The decoded size follows from the text (3 bytes per 4 characters, less the padding), so an
  // oversized body is refused before it is decoded.
  const decodedBytes = (body.length / 4) * 3 - (body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0);
  if (decodedBytes > maxBytes) throw new CertificateTooLargeError(decodedBytes, maxBytes);
  const bytes = Buffer.from(body, 'base64');
  // Buffer ignores non-zero padding bits; canonical base64 must round-trip.
  if (bytes.toString('base64') !== body) throw new CertificateParseError('PEM body is not valid base64');
  // A copy: small Buffers are slices of a shared pool, which `der.buffer` would expose.
  return new Uint8Array(bytes);
}

function parseDer(copy: Uint8Array): PeerCertificate {
  if (copy.length === 0) throw new CertificateParseError('empty input');
  // A Buffer view of the private copy (no second copy): Buffer's latin1 decoding is the fastest.
  const der = Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
  const certificate = expectElement(der, 0, der.length, 0x30, 'Certificate SEQUENCE');
  if (certificate.end !== der.length) {
    const trailing = der.length - certificate.end;
    throw new CertificateParseError(`${trailing} trailing byte${trailing === 1 ? '' : 's'} after the certificate at offset ${certificate.end}`);
  }
  validateDerTree(der, 0, der.length);

  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  const tbs = expectElement(der, certificate.contentStart, certificate.end, 0x30, 'TBSCertificate SEQUENCE');
  const signatureAlgorithm = expectAlgorithmIdentifier(der, tbs.end, certificate.end, 'signatureAlgorithm');
  const signature = expectElement(der, signatureAlgorithm.end, certificate.end, 0x03, 'signatureValue BIT STRING');
  if (signature.end !== certificate.end) throw new CertificateParseError(`extra data after signatureValue at offset ${signature.end}`);

  // TBSCertificate (RFC 5280 section 4.1.2), fields in order.
  let position = tbs.contentStart;
  let version = 0;
  if (position < tbs.end && der[position] === 0xa0) {
    const explicit = readElement(der, position, tbs.end);
    const integer = expectElement(der, explicit.contentStart, explicit.end, 0x02, 'version INTEGER');
    if (integer.end !== explicit.end || integer.end - integer.contentStart !== 1 || der[integer.contentStart]! > 2) {
      throw new CertificateParseError(`unsupported certificate version at offset ${integer.start}`);
    }
    version = der[integer.contentStart]!;
    position = explicit.end;
  }
  const serial = expectElement(der, position, tbs.end, 0x02, 'serialNumber INTEGER');
  const innerSignature = expectAlgorithmIdentifier(der, serial.end, tbs.end, 'signature');
  const issuer = expectElement(der, innerSignature.end, tbs.end, 0x30, 'issuer Name SEQUENCE');
  const validity = expectElement(der, issuer.end, tbs.end, 0x30, 'validity SEQUENCE');
  const subject = expectElement(der, validity.end, tbs.end, 0x30, 'subject Name SEQUENCE');
  const publicKeyInfo = expectElement(der, subject.end, tbs.end, 0x30, 'subjectPublicKeyInfo SEQUENCE');
  const keyAlgorithm = expectAlgorithmIdentifier(der, publicKeyInfo.contentStart, publicKeyInfo.end, 'subjectPublicKeyInfo algorithm');
  const publicKey = expectElement(der, keyAlgorithm.end, publicKeyInfo.end, 0x03, 'subjectPublicKey BIT STRING');
  if (publicKey.end !== publicKeyInfo.end) throw new CertificateParseError(`extra data in subjectPublicKeyInfo at offset ${publicKey.end}`);

  position = publicKeyInfo.end;
  let extensions: DerElement | undefined;
  // issuerUniqueID [1], subjectUniqueID [2] (v2 and v3), extensions [3] (v3 only).
  for (const [tag, what, minimumVersion] of [[0x81, 'issuerUniqueID', 1], [0x82, 'subjectUniqueID', 1], [0xa3, 'extensions', 2]] as const) {
    if (position < tbs.end && der[position] === tag) {
      if (version < minimumVersion) throw new CertificateParseError(`${what} at offset ${position}: not allowed in a version ${version + 1} certificate`);
      const element = readElement(der, position, tbs.end);
      if (tag === 0xa3) extensions = element;
      position = element.end;
    }
  }
  if (position !== tbs.end) {
    throw new CertificateParseError(`unexpected element (tag 0x${hexByte(der[position]!)}) in TBSCertificate at offset ${position}`);
  }

  const notBefore = expectElementOf(der, validity.contentStart, validity.end, 'notBefore');
  const notAfter = expectElementOf(der, notBefore.end, validity.end, 'notAfter');
  if (notAfter.end !== validity.end) throw new CertificateParseError(`extra data in validity at offset ${notAfter.end}`);

  const subjectName = decodeName(der, subject, 'subject', true);
  const san = extensions === undefined ? EMPTY_SAN : decodeExtensions(der, extensions);
  let spiffeId: string | undefined;
  let spiffeCount = 0;
  for (const uri of san.uri) {
    if (uri.startsWith('spiffe://')) {
      spiffeId = uri;
      spiffeCount++;
    }
  }
  const result: PeerCertificate = {
    subject: subjectName.text,
    issuer: decodeName(der, issuer, 'issuer', false).text,
    subjectAttributes: subjectName.rdns,
    serialNumber: formatSerialNumber(der, serial),
    fingerprint256: toHex(hash('sha256', der, 'buffer')),
    notBefore: decodeTime(der, notBefore, 'notBefore'),
    notAfter: decodeTime(der, notAfter, 'notAfter'),
    san,
    der: copy,
  };
  if (spiffeCount === 1) (result as { spiffeId?: string }).spiffeId = spiffeId;
  return withCertificateJson(result);
}

const EMPTY_SAN: SubjectAltNames = Object.freeze({
  dns: Object.freeze([]),
  uri: Object.freeze([]),
  email: Object.freeze([]),
  ip: Object.freeze([]),
});

function expectAlgorithmIdentifier(der: Uint8Array, offset: number, limit: number, what: string): DerElement {
  // AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
  const sequence = expectElement(der, offset, limit, 0x30, `${what} AlgorithmIdentifier SEQUENCE`);
  const algorithm = expectElement(der, sequence.contentStart, sequence.end, 0x06, `${what} algorithm OBJECT IDENTIFIER`);
  if (algorithm.end < sequence.end && readElement(der, algorithm.end, sequence.end).end !== sequence.end) {
    throw new CertificateParseError(`extra data in ${what} AlgorithmIdentifier at offset ${algorithm.end}`);
  }
  return sequence;
}

function expectElementOf(der: Uint8Array, offset: number, limit: number, what: string): DerElement {
  if (offset >= limit) throw new CertificateParseError(`${what} is missing at offset ${offset}`);
  return readElement(der, offset, limit);
}

/**
 * RFC 5280 section 4.1.2.2 serial: uppercase hex of the magnitude, whole bytes, without the DER
 * sign byte; `00` for zero; `-` before the magnitude of a negative serial, which is what
 * OpenSSL's `i2a_ASN1_INTEGER` (`openssl x509 -serial`, nginx) prints.
 */
function formatSerialNumber(der: Uint8Array, serial: DerElement): string {
  const { contentStart: start, end } = serial;
  if (start === end) throw new CertificateParseError(`empty serialNumber INTEGER at offset ${serial.start}`);
  // X.690 8.3.2: the first nine bits of an INTEGER may not be all zeros or all ones.
  if (end - start > 1 && ((der[start] === 0x00 && der[start + 1]! < 0x80) || (der[start] === 0xff && der[start + 1]! >= 0x80))) {
    throw new CertificateParseError(`serialNumber INTEGER at offset ${serial.start} is not minimally encoded`);
  }
  if (der[start]! < 0x80) return toHex(der, end - start > 1 && der[start] === 0 ? start + 1 : start, end);
  // Negative: the magnitude is the two's complement (invert, add one), minimal whole bytes.
  const magnitude = new Uint8Array(end - start);
  let carry = 1;
  for (let i = end - start - 1; i >= 0; i--) {
    const sum = (~der[start + i]! & 0xff) + carry;
    magnitude[i] = sum & 0xff;
    carry = sum >> 8;
  }
  let first = 0;
  while (first < magnitude.length - 1 && magnitude[first] === 0) first++;
  return '-' + toHex(magnitude, first);
}

function digits(der: Uint8Array, start: number, count: number, what: string, offset: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = der[i]! - 0x30;
    if (digit < 0 || digit > 9) throw new CertificateParseError(`${what} at offset ${offset} is not a valid time`);
    value = value * 10 + digit;
  }
  return value;
}

/**
 * RFC 5280 section 4.1.2.5: UTCTime `YYMMDDHHMMSSZ` (years 50-99 are 19xx, 00-49 are 20xx) or
 * GeneralizedTime `YYYYMMDDHHMMSSZ`, always in UTC, with seconds, without fractions.
 */
function decodeTime(der: Uint8Array, element: DerElement, what: string): Date {
  const { contentStart: start, end } = element;
  let year: number;
  let position: number;
  if (element.tag === 0x17 && end - start === 13) {
    const twoDigits = digits(der, start, 2, what, element.start);
    year = twoDigits < 50 ? 2000 + twoDigits : 1900 + twoDigits;
    position = start + 2;
  } else if (element.tag === 0x18 && end - start === 15) {
    year = digits(der, start, 4, what, element.start);
    position = start + 4;
  } else if (element.tag === 0x17 || element.tag === 0x18) {
    throw new CertificateParseError(`${what} at offset ${element.start} is not in the RFC 5280 form YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ`);
  } else {
    throw new CertificateParseError(`expected UTCTime or GeneralizedTime (${what}) at offset ${element.start}, found tag 0x${hexByte(element.tag)}`);
  }
  const month = digits(der, position, 2, what, element.start);
  const day = digits(der, position + 2, 2, what, element.start);
  const hour = digits(der, position + 4, 2, what, element.start);
  const minute = digits(der, position + 6, 2, what, element.start);
  const second = digits(der, position + 8, 2, what, element.start);
  if (der[position + 10] !== 0x5a) throw new CertificateParseError(`${what} at offset ${element.start} is not in UTC (no trailing Z)`);
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year);
  if (
    month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 ||
    date.getUTCDate() !== day || date.getUTCMonth() !== month - 1
  ) {
    throw new CertificateParseError(`${what} at offset ${element.start} is not a valid time`);
  }
  return date;
}

function decodeExtensions(der: Uint8Array, explicit: DerElement): SubjectAltNames {
  // Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 section 4.1)
  const list = expectElement(der, explicit.contentStart, explicit.end, 0x30, 'Extensions SEQUENCE');
  if (list.end !== explicit.end) throw new CertificateParseError(`extra data after Extensions at offset ${list.end}`);
  if (list.contentStart === list.end) throw new CertificateParseError(`empty Extensions SEQUENCE at offset ${list.start}`);
  const seen = new Set<string>();
  let san: SubjectAltNames = EMPTY_SAN;
  for (let position = list.contentStart; position < list.end; ) {
    // Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
    const extension = expectElement(der, position, list.end, 0x30, 'Extension SEQUENCE');
    position = extension.end;
    const id = expectElement(der, extension.contentStart, extension.end, 0x06, 'extnID OBJECT IDENTIFIER');
    let next = id.end;
    if (next < extension.end && der[next] === 0x01) {
      const critical = readElement(der, next, extension.end);
      if (critical.end - critical.contentStart !== 1) throw new CertificateParseError(`critical BOOLEAN at offset ${next} is not one octet`);
      next = critical.end;
    }
    const value = expectElement(der, next, extension.end, 0x04, 'extnValue OCTET STRING');
    if (value.end !== extension.end) throw new CertificateParseError(`extra data in Extension at offset ${value.end}`);
    const oid = decodeObjectIdentifier(der, id.contentStart, id.end);
    // RFC 5280 section 4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(oid)) throw new CertificateParseError(`duplicate extension ${oid} at offset ${extension.start}`);
    seen.add(oid);
    if (oid === '2.5.29.17') san = decodeSubjectAltNames(der, value);
  }
  return san;
}

/**
 * Most entries (GeneralNames of any form) in a subjectAltName extension. Client certificates
 * carry a few; public server certificates at most a few hundred. A longer list is a parse error
 * rather than cut short, because a shortened list could drop a name the application checks (a
 * second SPIFFE ID, which must leave `spiffeId` unset).
 */
export const MAX_SUBJECT_ALT_NAMES = 1024;

function decodeSubjectAltNames(der: Uint8Array, octets: DerElement): SubjectAltNames {
  validateDerTree(der, octets.contentStart, octets.end);
  const names = expectElement(der, octets.contentStart, octets.end, 0x30, 'subjectAltName GeneralNames SEQUENCE');
  if (names.end !== octets.end) throw new CertificateParseError(`extra data after subjectAltName at offset ${names.end}`);
  const dns: string[] = [];
  const uri: string[] = [];
  const email: string[] = [];
  const ip: string[] = [];
  let count = 0;
  for (let position = names.contentStart; position < names.end; ) {
    if (++count > MAX_SUBJECT_ALT_NAMES) {
      throw new CertificateParseError(`subjectAltName has more than ${MAX_SUBJECT_ALT_NAMES} entries (at offset ${position})`);
    }
    const name = readElement(der, position, names.end);
    position = name.end;
    // GeneralName (RFC 5280 section 4.2.1.6), IMPLICIT tags: [1] rfc822Name, [2] dNSName,
    // [6] uniformResourceIdentifier (all IA5String), [7] iPAddress (OCTET STRING). The other
    // forms (otherName, directoryName, ...) are not part of the identity.
    switch (name.tag) {
      case 0x81:
        email.push(ia5(der, name));
        break;
      case 0x82:
        dns.push(ia5(der, name));
        break;
      case 0x86:
        uri.push(ia5(der, name));
        break;
      case 0x87: {
        const text = formatIpAddress(der.subarray(name.contentStart, name.end));
        if (text === undefined) {
          throw new CertificateParseError(`iPAddress subjectAltName at offset ${name.start} has ${name.end - name.contentStart} octets, expected 4 or 16`);
        }
        ip.push(text);
        break;
      }
      default:
        break;
    }
  }
  return { dns, uri, email, ip };
}

function ia5(der: Uint8Array, element: DerElement): string {
  // IA5String is ASCII; other octets are kept as Latin-1 (as OpenSSL prints them), never dropped.
  return decodeLatin1(der, element.contentStart, element.end);
}
