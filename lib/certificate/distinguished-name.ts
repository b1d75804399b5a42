/**
 * Distinguished names (RFC 5280 section 4.1.2.4) to RFC 4514 strings with OpenSSL's short
 * attribute names, plus log-safe escapes. See docs/identity-format.md for every rule.
 */
import { CertificateParseError } from '../errors.js';
import { decodeLatin1, decodeObjectIdentifier, expectElement, readElement, type DerElement } from './der.js';
import { toHex } from './hex.js';
import { hexEscapeCharacter, isLogUnsafeAt } from '../internal/log-safe.js';
import type { DnAttribute } from './peer-certificate.js';

/**
 * OpenSSL 3.0's short names (obj_mac.h `SN_*`) for the attribute-type arcs that appear in
 * distinguished names: X.520 (2.5.4), RFC 4519/COSINE (0.9.2342.19200300.100.1), PKCS #9
 * attributes, EV jurisdiction, Russian qualified-certificate identifiers. OpenSSL, and therefore
 * nginx, Envoy and Node, print these names; RFC 4514 section 3 would allow only nine of them.
 */
const OPENSSL_SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.2', 'textEncodedORAddress'],
  ['0.9.2342.19200300.100.1.3', 'mail'],
  ['0.9.2342.19200300.100.1.4', 'info'],
  ['0.9.2342.19200300.100.1.5', 'favouriteDrink'],
  ['0.9.2342.19200300.100.1.6', 'roomNumber'],
  ['0.9.2342.19200300.100.1.7', 'photo'],
  ['0.9.2342.19200300.100.1.8', 'userClass'],
  ['0.9.2342.19200300.100.1.9', 'host'],
  ['0.9.2342.19200300.100.1.10', 'manager'],
  ['0.9.2342.19200300.100.1.11', 'documentIdentifier'],
  ['0.9.2342.19200300.100.1.12', 'documentTitle'],
  ['0.9.2342.19200300.100.1.13', 'documentVersion'],
  ['0.9.2342.19200300.100.1.14', 'documentAuthor'],
  ['0.9.2342.19200300.100.1.15', 'documentLocation'],
  ['0.9.2342.19200300.100.1.20', 'homeTelephoneNumber'],
  ['0.9.2342.19200300.100.1.21', 'secretary'],
  ['0.9.2342.19200300.100.1.22', 'otherMailbox'],
  ['0.9.2342.19200300.100.1.23', 'lastModifiedTime'],
  ['0.9.2342.19200300.100.1.24', 'lastModifiedBy'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['0.9.2342.19200300.100.1.26', 'aRecord'],
  ['0.9.2342.19200300.100.1.27', 'pilotAttributeType27'],
  ['0.9.2342.19200300.100.1.28', 'mXRecord'],
  ['0.9.2342.19200300.100.1.29', 'nSRecord'],
  ['0.9.2342.19200300.100.1.30', 'sOARecord'],
  ['0.9.2342.19200300.100.1.31', 'cNAMERecord'],
  ['0.9.2342.19200300.100.1.37', 'associatedDomain'],
  ['0.9.2342.19200300.100.1.38', 'associatedName'],
  ['0.9.2342.19200300.100.1.39', 'homePostalAddress'],
  ['0.9.2342.19200300.100.1.40', 'personalTitle'],
  ['0.9.2342.19200300.100.1.41', 'mobileTelephoneNumber'],
  ['0.9.2342.19200300.100.1.42', 'pagerTelephoneNumber'],
  ['0.9.2342.19200300.100.1.43', 'friendlyCountryName'],
  ['0.9.2342.19200300.100.1.44', 'uid'],
  ['0.9.2342.19200300.100.1.45', 'organizationalStatus'],
  ['0.9.2342.19200300.100.1.46', 'janetMailbox'],
  ['0.9.2342.19200300.100.1.47', 'mailPreferenceOption'],
  ['0.9.2342.19200300.100.1.48', 'buildingName'],
  ['0.9.2342.19200300.100.1.49', 'dSAQuality'],
  ['0.9.2342.19200300.100.1.50', 'singleLevelQuality'],
  ['0.9.2342.19200300.100.1.51', 'subtreeMinimumQuality'],
  ['0.9.2342.19200300.100.1.52', 'subtreeMaximumQuality'],
  ['0.9.2342.19200300.100.1.53', 'personalSignature'],
  ['0.9.2342.19200300.100.1.54', 'dITRedirect'],
  ['0.9.2342.19200300.100.1.55', 'audio'],
  ['0.9.2342.19200300.100.1.56', 'documentPublisher'],
  ['1.2.643.3.131.1.1', 'INN'],
  ['1.2.643.100.1', 'OGRN'],
  ['1.2.643.100.3', 'SNILS'],
  ['1.2.643.100.5', 'OGRNIP'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
  ['1.2.840.113549.1.9.2', 'unstructuredName'],
  ['1.2.840.113549.1.9.3', 'contentType'],
  ['1.2.840.113549.1.9.4', 'messageDigest'],
  ['1.2.840.113549.1.9.5', 'signingTime'],
  ['1.2.840.113549.1.9.6', 'countersignature'],
  ['1.2.840.113549.1.9.7', 'challengePassword'],
  ['1.2.840.113549.1.9.8', 'unstructuredAddress'],
  ['1.2.840.113549.1.9.9', 'extendedCertificateAttributes'],
  ['1.2.840.113549.1.9.20', 'friendlyName'],
  ['1.2.840.113549.1.9.21', 'localKeyID'],
  ['1.3.6.1.4.1.311.60.2.1.1', 'jurisdictionL'],
  ['1.3.6.1.4.1.311.60.2.1.2', 'jurisdictionST'],
  ['1.3.6.1.4.1.311.60.2.1.3', 'jurisdictionC'],
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'street'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.13', 'description'],
  ['2.5.4.14', 'searchGuide'],
  ['2.5.4.15', 'businessCategory'],
  ['2.5.4.16', 'postalAddress'],
  ['2.5.4.17', 'postalCode'],
  ['2.5.4.18', 'postOfficeBox'],
  ['2.5.4.19', 'physicalDeliveryOfficeName'],
  ['2.5.4.20', 'telephoneNumber'],
  ['2.5.4.21', 'telexNumber'],
  ['2.5.4.22', 'teletexTerminalIdentifier'],
  ['2.5.4.23', 'facsimileTelephoneNumber'],
  ['2.5.4.24', 'x121Address'],
  ['2.5.4.25', 'internationaliSDNNumber'],
  ['2.5.4.26', 'registeredAddress'],
  ['2.5.4.27', 'destinationIndicator'],
  ['2.5.4.28', 'preferredDeliveryMethod'],
  ['2.5.4.29', 'presentationAddress'],
  ['2.5.4.30', 'supportedApplicationContext'],
  ['2.5.4.31', 'member'],
  ['2.5.4.32', 'owner'],
  ['2.5.4.33', 'roleOccupant'],
  ['2.5.4.34', 'seeAlso'],
  ['2.5.4.35', 'userPassword'],
  ['2.5.4.36', 'userCertificate'],
  ['2.5.4.37', 'cACertificate'],
  ['2.5.4.38', 'authorityRevocationList'],
  ['2.5.4.39', 'certificateRevocationList'],
  ['2.5.4.40', 'crossCertificatePair'],
  ['2.5.4.41', 'name'],
  ['2.5.4.42', 'GN'],
  ['2.5.4.43', 'initials'],
  ['2.5.4.44', 'generationQualifier'],
  ['2.5.4.45', 'x500UniqueIdentifier'],
  ['2.5.4.46', 'dnQualifier'],
  ['2.5.4.47', 'enhancedSearchGuide'],
  ['2.5.4.48', 'protocolInformation'],
  ['2.5.4.49', 'distinguishedName'],
  ['2.5.4.50', 'uniqueMember'],
  ['2.5.4.51', 'houseIdentifier'],
  ['2.5.4.52', 'supportedAlgorithms'],
  ['2.5.4.53', 'deltaRevocationList'],
  ['2.5.4.54', 'dmdName'],
  ['2.5.4.65', 'pseudonym'],
  ['2.5.4.72', 'role'],
  ['2.5.4.97', 'organizationIdentifier'],
  ['2.5.4.98', 'c3'],
  ['2.5.4.99', 'n3'],
  ['2.5.4.100', 'dnsName'],
]);

/** `2.5.4.0` to `2.5.4.127`, the one-octet X.520 attribute types. */
const X520_OIDS: readonly string[] = Array.from({ length: 128 }, (_, arc) => `2.5.4.${arc}`);

/** OpenSSL's short name for an attribute OID, or `undefined` when there is none in our table. */
export function attributeShortName(oid: string): string | undefined {
  return OPENSSL_SHORT_NAMES.get(oid);
}

const OIDS_BY_SHORT_NAME: ReadonlyMap<string, string> = new Map(
  [...OPENSSL_SHORT_NAMES].map(([oid, name]) => [name, oid]),
);

/** The attribute OID OpenSSL prints as `shortName` (`CN` → `2.5.4.3`), or `undefined`. */
export function attributeOid(shortName: string): string | undefined {
  return OIDS_BY_SHORT_NAME.get(shortName);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isAscii(der: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (der[i]! >= 0x80) return false;
  return true;
}

/**
 * Decodes the string types OpenSSL 3.0 accepts in a Name the way its
 * `ASN1_STRFLGS_UTF8_CONVERT` does: NumericString, PrintableString, IA5String and TeletexString as
 * Latin-1 (one octet, one character), BMPString as UCS-2 big-endian, UniversalString as UCS-4
 * big-endian, UTF8String as UTF-8. Returns `undefined` for any other type (OpenSSL refuses to load
 * a certificate with a VisibleString or GeneralString name value) and for content that is not
 * valid in its type (invalid UTF-8, odd BMPString length, surrogates, code points above
 * U+10FFFF): the caller then renders `#` plus the DER in hex.
 */
export function decodeDirectoryString(der: Uint8Array, element: DerElement): string | undefined {
  const { contentStart: start, end } = element;
  switch (element.tag) {
    case 0x0c: // UTF8String
      if (isAscii(der, start, end)) return decodeLatin1(der, start, end);
      try {
        return utf8Decoder.decode(der.subarray(start, end));
      } catch {
        return undefined;
      }
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x14: // TeletexString (T61String)
    case 0x16: // IA5String
      return decodeLatin1(der, start, end);
    case 0x1e: {
      // BMPString: UCS-2 big-endian, so a surrogate code unit is not a character.
      if ((end - start) % 2 !== 0) return undefined;
      const swapped = Buffer.allocUnsafe(end - start);
      for (let i = start, j = 0; i < end; i += 2, j += 2) {
        const high = der[i]!;
        if (high >= 0xd8 && high <= 0xdf) return undefined;
        swapped[j] = der[i + 1]!;
        swapped[j + 1] = high;
      }
      return swapped.toString('utf16le');
    }
    case 0x1c: {
      // UniversalString: UCS-4, turned into UTF-16 code units in a buffer (at most four bytes per
      // character), so the string comes out flat.
      if ((end - start) % 4 !== 0) return undefined;
      const units = Buffer.allocUnsafe(end - start);
      let length = 0;
      for (let i = start; i < end; i += 4) {
        const code = ((der[i]! << 24) | (der[i + 1]! << 16) | (der[i + 2]! << 8) | der[i + 3]!) >>> 0;
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
        if (code < 0x10000) {
          length = units.writeUInt16LE(code, length);
        } else {
          length = units.writeUInt16LE(0xd800 + ((code - 0x10000) >> 10), length);
          length = units.writeUInt16LE(0xdc00 + ((code - 0x10000) & 0x3ff), length);
        }
      }
      return units.toString('utf16le', 0, length);
    }
    default:
      return undefined;
  }
}

/** RFC 4514 section 2.4: the characters escaped with a backslash anywhere in a value. */
const RFC4514_SPECIALS = '"+,;<>\\';

/**
 * The escape of each ASCII character that needs one (an RFC 4514 special, or log-unsafe per
 * lib/internal/log-safe.ts), `undefined` for the others: the common path is one table lookup.
 */
const ASCII_ESCAPES: readonly (string | undefined)[] = Array.from({ length: 128 }, (_, code) => {
  const character = String.fromCharCode(code);
  if (RFC4514_SPECIALS.includes(character)) return '\\' + character;
  return isLogUnsafeAt(character, 0) ? hexEscapeCharacter(character) : undefined;
});

/** 1 where {@link ASCII_ESCAPES} has an escape: a byte lookup on the path every character takes. */
const ASCII_NEEDS_ESCAPE = Uint8Array.from(ASCII_ESCAPES, (escape) => (escape === undefined ? 0 : 1));

/**
 * Escapes of the non-ASCII log-unsafe characters met so far, by code point (by code unit for a
 * lone surrogate). Bounded: the unsafe set is fixed and small.
 */
const wideEscapes = new Map<number, string>();

function wideEscape(key: number, character: string): string {
  let escape = wideEscapes.get(key);
  if (escape === undefined) wideEscapes.set(key, (escape = hexEscapeCharacter(character)));
  return escape;
}

/**
 * Escapes an attribute value per RFC 4514 section 2.4 (`"+,;<>\` anywhere, `#` or space first,
 * space last, so a value of exactly `#` becomes `\#`) and writes every log-unsafe character
 * (lib/internal/log-safe.ts) as `\XX` per UTF-8 byte (`\0A`, `\E2\80\AE`), which section 2.4 allows for
 * any character. The result is one flat string: the pieces are joined once rather than
 * concatenated one by one, which would leave a rope holding every piece.
 */
export function escapeAttributeValue(value: string): string {
  const length = value.length;
  if (length === 0) return value;
  let pieces: string[] | undefined;
  let runStart = 0;
  let i = 0;
  const first = value.charCodeAt(0);
  if (first === 0x20 || first === 0x23) {
    pieces = ['\\' + value[0]];
    runStart = i = 1;
  }
  for (; i < length; i++) {
    const code = value.charCodeAt(i);
    let escape: string | undefined;
    let width = 1;
    if (code < 0x80) {
      if (ASCII_NEEDS_ESCAPE[code] === 0) continue;
      escape = ASCII_ESCAPES[code]!;
    } else {
      if (!isLogUnsafeAt(value, i)) continue;
      const next = value.charCodeAt(i + 1);
      if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        // An unsafe pair (a tag character) is one character: four UTF-8 bytes.
        width = 2;
        escape = wideEscape(value.codePointAt(i)!, value.slice(i, i + 2));
      } else {
        escape = wideEscape(code, value[i]!);
      }
    }
    pieces ??= [];
    if (i > runStart) pieces.push(value.slice(runStart, i));
    pieces.push(escape);
    runStart = i + width;
    i += width - 1;
  }
  if (pieces === undefined) {
    // Nothing escaped: only a trailing space can still need one.
    return value.charCodeAt(length - 1) === 0x20 ? [value.slice(0, length - 1), '\\ '].join('') : value;
  }
  if (runStart < length) {
    if (value.charCodeAt(length - 1) === 0x20) {
      if (length - 1 > runStart) pieces.push(value.slice(runStart, length - 1));
      pieces.push('\\ ');
    } else {
      pieces.push(value.slice(runStart));
    }
  }
  return pieces.join('');
}

/** A Name decoded from DER: its RFC 4514 text and, on request, its attributes. */
export interface DecodedName {
  /** RFC 4514 string, most-specific RDN first. */
  readonly text: string;
  /** RDNs in DER order; empty unless requested. */
  readonly rdns: DnAttribute[][];
}

/**
 * Most attributes (AttributeTypeAndValue) in one Name, over all its RDNs. Real subjects and
 * issuers hold a few, rarely more than twenty; a Name with more is a parse error rather than cut
 * short, because a shortened name could read as another identity.
 */
export const MAX_NAME_ATTRIBUTES = 128;

/** Each OID of the table as the table's own string, so a kept OID is shared, not a copy. */
const CANONICAL_OIDS: ReadonlyMap<string, string> = new Map([...OPENSSL_SHORT_NAMES.keys()].map((oid) => [oid, oid]));

/** A flat copy of an ASCII string (a dotted OID), which `+=` may have left as a rope. */
function flatAscii(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * Decodes the Name (`SEQUENCE OF SET OF AttributeTypeAndValue`) in `name`, whose tree the caller
 * has already validated. RDNs are printed last-first (RFC 4514 section 2.1), the attributes of a
 * multi-valued RDN in DER order joined by `+`. No string returned is a rope of many pieces: the
 * text is joined once from its parts (a name of one attribute is its type, `=` and its flat
 * value), and kept OIDs are the table's own strings or flat copies.
 *
 * @throws {CertificateParseError} for a malformed Name or one of more than
 *   {@link MAX_NAME_ATTRIBUTES} attributes.
 */
export function decodeName(der: Uint8Array, name: DerElement, what: string, withAttributes: boolean): DecodedName {
  const rdnTexts: string[] = [];
  const rdns: DnAttribute[][] = [];
  let attributes = 0;
  for (let position = name.contentStart; position < name.end; ) {
    const set = expectElement(der, position, name.end, 0x31, `${what} RDN SET`);
    position = set.end;
    if (set.contentStart === set.end) throw new CertificateParseError(`empty RDN in ${what} at offset ${set.start}`);
    let rdnText: string | undefined;
    let multiValued: string[] | undefined;
    const rdn: DnAttribute[] = [];
    for (let inner = set.contentStart; inner < set.end; ) {
      if (++attributes > MAX_NAME_ATTRIBUTES) {
        throw new CertificateParseError(`${what} has more than ${MAX_NAME_ATTRIBUTES} attributes (at offset ${inner})`);
      }
      const ava = expectElement(der, inner, set.end, 0x30, `${what} AttributeTypeAndValue`);
      inner = ava.end;
      const type = expectElement(der, ava.contentStart, ava.end, 0x06, `${what} attribute type`);
      const value = readElement(der, type.end, ava.end);
      if (value.end !== ava.end) throw new CertificateParseError(`extra data in ${what} attribute at offset ${value.end}`);
      const c = type.contentStart;
      // Most attributes are X.520 (06 03 55 04 xx): skip the general OID decoder for them.
      const x520 = type.end - c === 3 && der[c] === 0x55 && der[c + 1] === 0x04 && der[c + 2]! < 0x80;
      let oid = x520 ? X520_OIDS[der[c + 2]!]! : decodeObjectIdentifier(der, c, type.end);
      const shortName = OPENSSL_SHORT_NAMES.get(oid);
      const decoded = decodeDirectoryString(der, value);
      const dumped = decoded === undefined || shortName === undefined ? ['#', toHex(der, value.start, value.end)].join('') : undefined;
      const avaText = `${shortName ?? oid}=${dumped ?? escapeAttributeValue(decoded!)}`;
      if (rdnText === undefined) rdnText = avaText;
      else (multiValued ??= [rdnText]).push(avaText);
      if (withAttributes) {
        // The OID is kept: the table's own string when there is one, else a flat copy.
        if (!x520) oid = CANONICAL_OIDS.get(oid) ?? flatAscii(oid);
        rdn.push({ type: shortName ?? oid, oid, value: decoded ?? dumped! });
      }
    }
    rdnTexts.push(multiValued === undefined ? rdnText! : multiValued.join('+'));
    if (withAttributes) rdns.push(rdn);
  }
  return { text: rdnTexts.reverse().join(','), rdns };
}

// RFC 4514 attribute types are case-insensitive, but OpenSSL's table has names that differ only
// in case (`UID` is userId, `uid` uniqueIdentifier): those must be written in their exact case.
const SHORT_NAMES_BY_LOWERCASE: ReadonlyMap<string, string> = (() => {
  const byLowercase = new Map<string, string | null>();
  for (const name of OPENSSL_SHORT_NAMES.values()) {
    const key = name.toLowerCase();
    byLowercase.set(key, byLowercase.has(key) ? null : name);
  }
  return new Map([...byLowercase].filter((entry): entry is [string, string] => entry[1] !== null));
})();

const DESCRIPTOR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERIC_OID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))+$/;
const HEX_DUMP = /^#(?:[0-9A-Fa-f]{2})+$/;
// RFC 4514 section 2.4: the characters `\` may escape by themselves.
const ESCAPABLE = ' "#+,;<=>\\';
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Splits `text` at every `separator` not preceded by an escaping `\`. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The unescaped value of an RFC 4514 attribute value, or a description of what is wrong. */
function unescapeValue(raw: string): { value: string } | { error: string } {
  let value = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      if ('"+,;<>'.includes(c)) return { error: `the character ${JSON.stringify(c)} must be escaped with a backslash` };
      value += c;
      continue;
    }
    const next = raw[i + 1];
    if (next !== undefined && ESCAPABLE.includes(next)) {
      value += next;
      i++;
      continue;
    }
    // `\XX` escapes, possibly several in a row forming one UTF-8 sequence.
    const bytes: number[] = [];
    while (raw[i] === '\\' && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 3;
    }
    if (bytes.length === 0) return { error: 'a backslash must be followed by a special character or two hex digits' };
    try {
      value += utf8Strict.decode(Uint8Array.from(bytes));
    } catch {
      return { error: 'the \\XX escapes are not valid UTF-8' };
    }
    i--;
  }
  return { value };
}

/**
 * `text`, an RFC 4514 distinguished name written by hand (`CN=billing, O=Example`), in the form
 * {@link decodeName} renders certificate names: OpenSSL's short attribute names in their own case
 * (`cn` and `2.5.4.3` become `CN`), no spaces around separators, each value escaped by
 * {@link escapeAttributeValue}. Comparing it with a certificate's `subject` or `issuer` as strings
 * is then an exact match of the name. An attribute type without a short name must carry its value
 * as `#` plus hex, which is how the renderer prints it.
 *
 * @returns the rendered name, or `{ error }` saying what is wrong with `text`.
 */
export function normalizeDistinguishedName(text: string): string | { readonly error: string } {
  if (text.trim().length === 0) return { error: 'it is empty' };
  const rdns: string[] = [];
  for (const rdn of splitUnescaped(text, ',')) {
    const avas: string[] = [];
    for (const ava of splitUnescaped(rdn, '+')) {
      const equals = ava.indexOf('=');
      if (equals < 0) return { error: `${JSON.stringify(ava.trim())} has no "="` };
      const typeText = ava.slice(0, equals).trim();
      let type: string | undefined;
      if (NUMERIC_OID.test(typeText)) type = OPENSSL_SHORT_NAMES.get(typeText) ?? typeText;
      else if (DESCRIPTOR.test(typeText)) type = OIDS_BY_SHORT_NAME.has(typeText) ? typeText : SHORT_NAMES_BY_LOWERCASE.get(typeText.toLowerCase());
      if (type === undefined) {
        return { error: `the attribute type ${JSON.stringify(typeText)} is not a known short name (in its exact case where two differ only in case) or a dotted OID` };
      }
      // Unescaped spaces around a value are layout (`CN=a, O=b`); an escaped one (`\ `) is kept.
      let raw = ava.slice(equals + 1).replace(/^ +/, '');
      while (raw.endsWith(' ') && !raw.endsWith('\\ ')) raw = raw.slice(0, -1);
      if (raw.startsWith('#')) {
        if (!HEX_DUMP.test(raw)) return { error: `the value of ${type} starts with "#" but is not hex pairs` };
        avas.push(`${type}=#${raw.slice(1).toUpperCase()}`);
        continue;
      }
      if (!OPENSSL_SHORT_NAMES.has(attributeOid(type) ?? '')) {
        return { error: `${type} has no short name, so certificates show its value as #<hex of its DER>; write it that way` };
      }
      const unescaped = unescapeValue(raw);
      if ('error' in unescaped) return { error: `in the value of ${type}, ${unescaped.error}` };
      avas.push(`${type}=${escapeAttributeValue(unescaped.value)}`);
    }
    rdns.push(avas.join('+'));
  }
  return rdns.join(',');
}
