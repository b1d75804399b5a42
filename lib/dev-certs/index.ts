/**
 * Development certificates: a throw-away PKI (roots, intermediates, server and client leaves) built
 * with pkijs and WebCrypto, no openssl needed. For local development and tests only: private keys
 * are generated in memory and exported unencrypted.
 *
 * Import it from `mtls-observability/dev-certs`; the CLI `npx mtls-observability dev-certs <dir>`
 * writes the standard set to disk.
 */
import { mkdir, writeFile, chmod, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { attributeOid } from '../certificate/distinguished-name.js';
import { parseIpAddress } from '../certificate/ip-address.js';
import { validateOptions, describeValue, isOneOf, type OptionCheck } from '../internal/options.js';

/** A WebCrypto key pair (`crypto.subtle.generateKey`). */
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

/** How an attribute value is written: the ASN.1 string type. */
export type StringEncoding = 'utf8' | 'printable' | 'ia5' | 'bmp' | 'teletex' | 'universal';

/** One attribute (AVA) of a distinguished name. */
export interface NameAttributeInput {
  /**
   * OpenSSL short name (`CN`, `O`, `OU`, `C`, `L`, `ST`, `DC`, `UID`, `emailAddress`,
   * `serialNumber`, `street`, `title`, `jurisdictionC`, ...; see {@link NAME_ATTRIBUTE_OIDS}) or a
   * dotted OID such as `2.5.4.3`.
   */
  readonly type: string;
  /** The value as a JavaScript string; it must be representable in `encoding`. */
  readonly value: string;
  /**
   * ASN.1 string type. Default: `printable` for `C` and `jurisdictionC`, `ia5` for `DC` and
   * `emailAddress`, `utf8` for everything else. `teletex` is written as Latin-1 bytes (what
   * OpenSSL reads back), `bmp` as UTF-16BE, `universal` as UTF-32BE.
   */
  readonly encoding?: StringEncoding;
}

/**
 * A distinguished name. A string is just a common name (`CN`, UTF8String). An array lists the RDNs
 * in DER order (e.g. C, O, CN; the RFC 4514 string shows them reversed); an inner array is one
 * multi-valued RDN whose AVAs are written in exactly the order given (no DER SET sorting, so tests
 * can check that order is kept).
 */
export type NameInput = string | readonly (NameAttributeInput | readonly NameAttributeInput[])[];

/** Subject alternative names (RFC 5280 section 4.2.1.6). */
export interface SubjectAltNameInput {
  /** dNSName entries (IA5String). Default: none. */
  readonly dns?: readonly string[];
  /** uniformResourceIdentifier entries, e.g. a SPIFFE ID (IA5String). Default: none. */
  readonly uri?: readonly string[];
  /** rfc822Name entries (IA5String). Default: none. */
  readonly email?: readonly string[];
  /** iPAddress entries: IPv4 dotted or IPv6 text (written as 4 or 16 bytes). Default: none. */
  readonly ip?: readonly string[];
}

/** Key algorithm of a generated key pair. */
export type DevKeyType = 'ec-p256' | 'rsa-2048';

/** What to put into a certificate. */
export interface CertificateOptions {
  /** Subject name (see {@link NameInput}). Required. */
  readonly subject: NameInput;
  /**
   * Serial number. A `bigint` is written in minimal two's complement; a `Uint8Array` is used
   * verbatim as the INTEGER's content bytes (so tests can make zero, negative, 20-octet or
   * non-minimal serials). Default: 16 random bytes, positive, minimal encoding.
   */
  readonly serialNumber?: bigint | Uint8Array;
  /**
   * Start of validity, truncated to whole seconds. Default: now minus one hour. Years 1950 to 2049
   * are written as UTCTime, others as GeneralizedTime (RFC 5280 section 4.1.2.5).
   */
  readonly notBefore?: Date;
  /** End of validity, truncated to whole seconds. Default: now plus 365 days. */
  readonly notAfter?: Date;
  /** Subject alternative names. Default: no SAN extension. */
  readonly san?: SubjectAltNameInput;
  /** Extended key usage purposes. Default: `['clientAuth']`. An empty array omits the extension. */
  readonly extendedKeyUsage?: readonly ('serverAuth' | 'clientAuth')[];
  /** Key algorithm for a newly generated key pair. Default: `'ec-p256'`. */
  readonly keyType?: DevKeyType;
  /**
   * Use this key pair instead of generating one (e.g. one key for many certificates in bulk tests
   * and benchmarks; see {@link generateDevKeyPair}). Default: a new key of `keyType`.
   */
  readonly keyPair?: CryptoKeyPair;
}

/** A generated certificate with its private key. */
export interface DevCertificate {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** The private key, unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  readonly keyPem: string;
  /** The certificate, DER. */
  readonly der: Uint8Array;
  /**
   * The certificate followed by the intermediates that issued it (not the root), PEM: what a
   * client or server must send. Equal to `certPem` for certificates issued by a root.
   */
  readonly chainPem: string;
  /** The key pair (WebCrypto), for reuse in further certificates. */
  readonly keyPair: CryptoKeyPair;
}

/** A certificate authority that can issue leaves and intermediates. */
export interface DevCertificateAuthority extends DevCertificate {
  /** Issues a leaf certificate (basicConstraints CA:FALSE). */
  issue(options: CertificateOptions): Promise<DevCertificate>;
  /** Issues an intermediate CA (pathLenConstraint 0) with the same key type, valid as long as this CA. */
  issueIntermediate(options: { subject: NameInput }): Promise<DevCertificateAuthority>;
}

/** Options of {@link createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /** Default: `'mtls-observability development CA'` (a CN). */
  readonly subject?: NameInput;
  /** Default: now minus one hour. */
  readonly notBefore?: Date;
  /** Default: now plus ten years. */
  readonly notAfter?: Date;
  /** Default: `'ec-p256'`. */
  readonly keyType?: DevKeyType;
}

/** The standard development set: one trusted CA, a server and one client per failure mode. */
export interface DevCertificateSet {
  /** Trusted root, CN=mtls-observability development CA. */
  readonly ca: DevCertificateAuthority;
  /** A second root nobody trusts, CN=mtls-observability untrusted CA. */
  readonly untrustedCa: DevCertificateAuthority;
  /** CN=localhost; SAN DNS:localhost, IP:127.0.0.1, IP:::1; EKU serverAuth. */
  readonly server: DevCertificate;
  readonly clients: {
    /** O=mtls-observability demo, CN=alice; SAN URI spiffe://example.org/ns/demo/sa/alice, DNS alice.example.org. */
    readonly valid: DevCertificate;
    /** notAfter in the past: `CERT_HAS_EXPIRED`. */
    readonly expired: DevCertificate;
    /** notBefore in the future: `CERT_NOT_YET_VALID`. */
    readonly notYetValid: DevCertificate;
    /** Issued by `untrustedCa`: `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
    readonly untrusted: DevCertificate;
    /** Self-signed: `DEPTH_ZERO_SELF_SIGNED_CERT`. */
    readonly selfSigned: DevCertificate;
    /** EKU serverAuth only: `INVALID_PURPOSE`. */
    readonly wrongEku: DevCertificate;
    /** Trusted, but its CN is {@link HOSTILE_COMMON_NAME} (log injection material). */
    readonly hostile: DevCertificate;
  };
}

/** Options of {@link writeDevCertificates}. */
export interface WriteDevCertificatesOptions {
  /** Replace files that already exist. Default: `false` (fail with `EEXIST`, write nothing). */
  readonly overwrite?: boolean;
}

/**
 * The hostile client's CN: quotes, a newline, a forged access-log line and a trailing backslash.
 * Logged raw it would forge a second request line.
 */
export const HOSTILE_COMMON_NAME =
  'mallory"\n127.0.0.1 - admin [27/Nov/2026:00:00:00 +0000] "GET /admin HTTP/1.1" 200 0 "\\';

/** Subject of the valid client's SAN URI. */
export const DEV_CLIENT_SPIFFE_ID = 'spiffe://example.org/ns/demo/sa/alice';

/** Organisation of every client in the development set. */
export const DEV_CLIENT_ORGANIZATION = 'mtls-observability demo';

/**
 * Short names accepted in {@link NameAttributeInput.type}, with their OIDs: the string-valued
 * attributes of the parser's OpenSSL name table (lib/certificate/distinguished-name.ts), the one source of OIDs.
 */
export const NAME_ATTRIBUTE_OIDS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(
    [
      'CN', 'SN', 'serialNumber', 'C', 'L', 'ST', 'street', 'O', 'OU', 'title', 'description',
      'businessCategory', 'postalCode', 'name', 'GN', 'initials', 'generationQualifier',
      'dnQualifier', 'pseudonym', 'role', 'organizationIdentifier', 'DC', 'UID', 'emailAddress',
      'jurisdictionL', 'jurisdictionST', 'jurisdictionC',
    ].map((name) => [name, attributeOid(name)!]),
  ),
);

const DEFAULT_ENCODING: Readonly<Record<string, StringEncoding>> = {
  C: 'printable',
  jurisdictionC: 'printable',
  DC: 'ia5',
  emailAddress: 'ia5',
};

const ENCODINGS: readonly StringEncoding[] = ['utf8', 'printable', 'ia5', 'bmp', 'teletex', 'universal'];
const KEY_TYPES: readonly DevKeyType[] = ['ec-p256', 'rsa-2048'];
const EKU_OIDS = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' } as const;

// Universal tag numbers of the ASN.1 string types (X.680 section 8.4).
const STRING_TAG: Readonly<Record<StringEncoding, number>> = {
  utf8: 12,
  printable: 19,
  teletex: 20,
  ia5: 22,
  universal: 28,
  bmp: 30,
};
const STRING_TYPE_NAME: Readonly<Record<StringEncoding, string>> = {
  utf8: 'UTF8String',
  printable: 'PrintableString',
  teletex: 'TeletexString',
  ia5: 'IA5String',
  universal: 'UniversalString',
  bmp: 'BMPString',
};

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

// ---------------------------------------------------------------------------------------------
// Option checks

const isDate: OptionCheck = (v) =>
  v instanceof Date && !Number.isNaN(v.getTime()) ? undefined : 'a valid Date';
const isNameInput: OptionCheck = (v) =>
  typeof v === 'string' || Array.isArray(v) ? undefined : 'a string (a CN) or an array of RDNs';
const isSerial: OptionCheck = (v) =>
  typeof v === 'bigint' || v instanceof Uint8Array ? undefined : 'a bigint or a Uint8Array';
const isPlainObject: OptionCheck = (v) =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : 'an object';
const isCryptoKey = (v: unknown) => Object.prototype.toString.call(v) === '[object CryptoKey]';
const isKeyPair: OptionCheck = (v) =>
  typeof v === 'object' &&
  v !== null &&
  isCryptoKey((v as CryptoKeyPair).privateKey) &&
  isCryptoKey((v as CryptoKeyPair).publicKey)
    ? undefined
    : 'a WebCrypto CryptoKeyPair ({ publicKey, privateKey })';
const isEkuList: OptionCheck = (v) =>
  Array.isArray(v) && v.every((p) => p === 'serverAuth' || p === 'clientAuth')
    ? undefined
    : 'an array of "serverAuth" / "clientAuth"';
const isStringArray: OptionCheck = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'an array of strings';

const certificateChecks: { readonly [K in keyof CertificateOptions]-?: OptionCheck } = {
  subject: isNameInput,
  serialNumber: isSerial,
  notBefore: isDate,
  notAfter: isDate,
  san: isPlainObject,
  extendedKeyUsage: isEkuList,
  keyType: isOneOf(KEY_TYPES),
  keyPair: isKeyPair,
};

interface ResolvedLeaf {
  readonly subject: Uint8Array;
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly san: Uint8Array | undefined;
  readonly eku: readonly ('serverAuth' | 'clientAuth')[];
  readonly keyType: DevKeyType;
  readonly keyPair: CryptoKeyPair | undefined;
}

function resolveCertificateOptions(factory: string, options: unknown): ResolvedLeaf {
  const o = validateOptions<CertificateOptions>(factory, options, certificateChecks);
  if (options === undefined || o.subject === undefined) {
    throw new TypeError(`${factory}: option "subject" is required (a CN string or an array of RDNs).`);
  }
  const now = Date.now();
  const notBefore = truncateToSeconds(o.notBefore ?? new Date(now - HOUR_MS));
  const notAfter = truncateToSeconds(o.notAfter ?? new Date(now + 365 * DAY_MS));
  return {
    subject: encodeName(factory, 'subject', o.subject),
    serial: o.serialNumber === undefined ? randomSerial() : serialBytes(o.serialNumber),
    notBefore,
    notAfter,
    san: o.san === undefined ? undefined : encodeSubjectAltNames(factory, o.san),
    eku: o.extendedKeyUsage ?? ['clientAuth'],
    keyType: o.keyType ?? 'ec-p256',
    keyPair: o.keyPair,
  };
}

// ---------------------------------------------------------------------------------------------
// Names

function encodeName(factory: string, option: string, name: NameInput): Uint8Array {
  const rdns: (NameAttributeInput | readonly NameAttributeInput[])[] =
    typeof name === 'string' ? [{ type: 'CN', value: name }] : [...name];
  const rdnSchemas = rdns.map((rdn, i) => {
    const avas = Array.isArray(rdn) ? (rdn as readonly NameAttributeInput[]) : [rdn as NameAttributeInput];
    if (avas.length === 0) {
      throw new TypeError(`${factory}: option "${option}": RDN ${i} is an empty array; an RDN needs at least one attribute.`);
    }
    // asn1js writes SET members in the order given: the caller's order is the DER order.
    return new asn1js.Set({ value: avas.map((ava) => encodeAttribute(factory, option, ava)) });
  });
  return new Uint8Array(new asn1js.Sequence({ value: rdnSchemas }).toBER(false));
}

function encodeAttribute(factory: string, option: string, ava: unknown): asn1js.Sequence {
  const where = `${factory}: option "${option}"`;
  if (typeof ava !== 'object' || ava === null) {
    throw new TypeError(`${where}: each attribute must be an object { type, value, encoding? }, got ${describeValue(ava)}.`);
  }
  const { type, value, encoding, ...rest } = ava as NameAttributeInput;
  const extra = Object.keys(rest);
  if (extra.length > 0) {
    throw new TypeError(`${where}: unknown attribute key ${JSON.stringify(extra[0])}. Known keys: type, value, encoding.`);
  }
  if (typeof type !== 'string') {
    throw new TypeError(`${where}: attribute "type" must be a string, got ${describeValue(type)}.`);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${where}: the value of ${type} must be a string, got ${describeValue(value)}.`);
  }
  let oid: string;
  if (Object.hasOwn(NAME_ATTRIBUTE_OIDS, type)) {
    oid = NAME_ATTRIBUTE_OIDS[type]!;
  } else if (isDottedOid(type)) {
    oid = type;
  } else {
    throw new TypeError(
      `${where}: unknown attribute type ${JSON.stringify(type)}. Use an OpenSSL short name ` +
        `(${Object.keys(NAME_ATTRIBUTE_OIDS).join(', ')}) or a dotted OID such as "2.5.4.3".`,
    );
  }
  if (encoding !== undefined && !ENCODINGS.includes(encoding)) {
    throw new TypeError(
      `${where}: encoding of ${type} must be one of ${ENCODINGS.map((e) => JSON.stringify(e)).join(', ')}, got ${describeValue(encoding)}.`,
    );
  }
  const chosen = encoding ?? DEFAULT_ENCODING[type] ?? 'utf8';
  const bytes = encodeString(chosen, value, (why) =>
    new TypeError(`${where}: the value ${describeValue(value)} of ${type} cannot be written as ${STRING_TYPE_NAME[chosen]}: ${why}.`),
  );
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: oid }),
      new asn1js.Primitive({ idBlock: { tagClass: 1, tagNumber: STRING_TAG[chosen] }, valueHex: bytes }),
    ],
  });
}

function isDottedOid(text: string): boolean {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(text)) return false;
  const [first, second] = text.split('.').map(Number);
  // X.690 section 8.19.4: under arcs 0 and 1 the second arc is at most 39.
  return first === 2 || (second !== undefined && second <= 39);
}

// X.680 section 41.4: PrintableString's character set.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function encodeString(encoding: StringEncoding, value: string, fail: (why: string) => TypeError): Uint8Array {
  const codePoints = Array.from(value, (c) => c.codePointAt(0)!);
  const lone = codePoints.find((cp) => cp >= 0xd800 && cp <= 0xdfff);
  if (lone !== undefined) throw fail(`it contains a lone surrogate U+${hex4(lone)}`);
  switch (encoding) {
    case 'utf8':
      return new TextEncoder().encode(value);
    case 'printable': {
      if (!PRINTABLE.test(value)) {
        const bad = Array.from(value).find((c) => !PRINTABLE.test(c))!;
        throw fail(`${JSON.stringify(bad)} is not allowed (PrintableString allows A-Z a-z 0-9 space ' ( ) + , - . / : = ?)`);
      }
      return Uint8Array.from(codePoints);
    }
    case 'ia5': {
      const bad = codePoints.find((cp) => cp > 0x7f);
      if (bad !== undefined) throw fail(`U+${hex4(bad)} is not ASCII (IA5String is 7-bit)`);
      return Uint8Array.from(codePoints);
    }
    case 'teletex': {
      const bad = codePoints.find((cp) => cp > 0xff);
      if (bad !== undefined) throw fail(`U+${hex4(bad)} is not Latin-1 (TeletexString values are written as Latin-1 bytes)`);
      return Uint8Array.from(codePoints);
    }
    case 'bmp': {
      const bad = codePoints.find((cp) => cp > 0xffff);
      if (bad !== undefined) throw fail(`U+${hex4(bad)} is outside the Basic Multilingual Plane`);
      const out = new Uint8Array(codePoints.length * 2);
      codePoints.forEach((cp, i) => {
        out[2 * i] = cp >> 8;
        out[2 * i + 1] = cp & 0xff;
      });
      return out;
    }
    case 'universal': {
      const out = new Uint8Array(codePoints.length * 4);
      const view = new DataView(out.buffer);
      codePoints.forEach((cp, i) => view.setUint32(4 * i, cp, false));
      return out;
    }
  }
}

function hex4(cp: number): string {
  return cp.toString(16).toUpperCase().padStart(4, '0');
}

// ---------------------------------------------------------------------------------------------
// Serial numbers, dates, SAN

function randomSerial(): Uint8Array {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Positive and minimal (RFC 5280 section 4.1.2.2): high bit clear, first byte not zero.
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes;
}

/** Minimal two's complement content bytes of a DER INTEGER (X.690 section 8.3). */
function serialBytes(serial: bigint | Uint8Array): Uint8Array {
  if (serial instanceof Uint8Array) return Uint8Array.from(serial);
  const bytes: number[] = [];
  let v = serial;
  for (;;) {
    const byte = Number(BigInt.asUintN(8, v));
    bytes.unshift(byte);
    v >>= 8n;
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
  }
  return Uint8Array.from(bytes);
}

function truncateToSeconds(date: Date): Date {
  // RFC 5280 section 4.1.2.5.2: GeneralizedTime MUST NOT include fractional seconds.
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function encodeTime(date: Date): pkijs.Time {
  const year = date.getUTCFullYear();
  // RFC 5280 section 4.1.2.5: UTCTime for 1950 through 2049, GeneralizedTime otherwise.
  return new pkijs.Time({ type: year >= 1950 && year <= 2049 ? 0 : 1, value: date });
}

function encodeSubjectAltNames(factory: string, san: SubjectAltNameInput): Uint8Array | undefined {
  const s = validateOptions<SubjectAltNameInput>(`${factory}: option "san"`, san, {
    dns: isStringArray,
    uri: isStringArray,
    email: isStringArray,
    ip: isStringArray,
  });
  const names: asn1js.Primitive[] = [];
  // GeneralName tags (RFC 5280 section 4.2.1.6): [1] rfc822Name, [2] dNSName, [6] URI, [7] iPAddress.
  const ia5 = (tag: number, kind: string) => (text: string) => {
    const bytes = encodeString('ia5', text, (why) => new TypeError(`${factory}: option "san.${kind}": ${describeValue(text)} cannot be written as IA5String: ${why}.`));
    names.push(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: tag }, valueHex: bytes }));
  };
  s.email?.forEach(ia5(1, 'email'));
  s.dns?.forEach(ia5(2, 'dns'));
  s.uri?.forEach(ia5(6, 'uri'));
  for (const ip of s.ip ?? []) {
    names.push(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 7 }, valueHex: ipBytes(factory, ip) }));
  }
  if (names.length === 0) return undefined;
  return new Uint8Array(new asn1js.Sequence({ value: names }).toBER(false));
}

function ipBytes(factory: string, text: string): Uint8Array {
  // A zone index (fe80::1%eth0) has no place in a certificate's 16 bytes.
  const bytes = text.includes('%') ? undefined : parseIpAddress(text);
  if (bytes === undefined) throw new TypeError(`${factory}: option "san.ip": ${describeValue(text)} is not an IPv4 or IPv6 address.`);
  // RFC 5280 section 4.2.1.6: four octets for IPv4; an IPv4-mapped IPv6 address keeps its 16.
  return text.includes(':') ? bytes : bytes.slice(12);
}

// ---------------------------------------------------------------------------------------------
// Keys and certificates

/** Generates an extractable WebCrypto key pair usable for {@link CertificateOptions.keyPair}. */
export async function generateDevKeyPair(keyType: DevKeyType = 'ec-p256'): Promise<CryptoKeyPair> {
  const problem = isOneOf(KEY_TYPES)(keyType);
  if (problem !== undefined) {
    throw new TypeError(`generateDevKeyPair(): keyType must be ${problem}, got ${describeValue(keyType)}.`);
  }
  const algorithm =
    keyType === 'ec-p256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  return await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

interface Signer {
  readonly name: Uint8Array;
  readonly privateKey: CryptoKey;
  readonly keyId: Uint8Array;
}

type Role = { kind: 'ca'; pathLength?: number } | { kind: 'leaf'; eku: readonly ('serverAuth' | 'clientAuth')[]; san: Uint8Array | undefined };

interface Built {
  readonly der: Uint8Array;
  readonly keyId: Uint8Array;
}

async function buildCertificate(
  subject: Uint8Array,
  serial: Uint8Array,
  notBefore: Date,
  notAfter: Date,
  keyPair: CryptoKeyPair,
  role: Role,
  issuer: Signer | 'self',
): Promise<Built> {
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  cert.subject = nameFromDer(subject);
  cert.issuer = nameFromDer(issuer === 'self' ? subject : issuer.name);
  cert.notBefore = encodeTime(notBefore);
  cert.notAfter = encodeTime(notAfter);
  await cert.subjectPublicKeyInfo.importKey(keyPair.publicKey);

  // RFC 5280 section 4.2.1.2, method (1): SHA-1 of the subjectPublicKey BIT STRING value.
  const keyId = new Uint8Array(
    await crypto.subtle.digest('SHA-1', cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
  );
  const authorityKeyId = issuer === 'self' ? keyId : issuer.keyId;
  const isRsa = keyPair.publicKey.algorithm.name.startsWith('RSA');

  const extensions: pkijs.Extension[] = [];
  const add = (extnID: string, critical: boolean, value: asn1js.BaseBlock | Uint8Array) =>
    extensions.push(
      new pkijs.Extension({
        extnID,
        critical,
        extnValue: value instanceof Uint8Array ? toArrayBuffer(value) : value.toBER(false),
      }),
    );

  if (role.kind === 'ca') {
    const bc: asn1js.BaseBlock[] = [new asn1js.Boolean({ value: true })];
    if (role.pathLength !== undefined) bc.push(new asn1js.Integer({ value: role.pathLength }));
    add(pkijs.id_BasicConstraints, true, new asn1js.Sequence({ value: bc }));
    add(pkijs.id_KeyUsage, true, keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']));
  } else {
    add(pkijs.id_BasicConstraints, true, new asn1js.Sequence({ value: [] }));
    // keyEncipherment: RSA key exchange in TLS 1.2 (RFC 5246 section 7.4.2) needs it.
    const usages: KeyUsageBit[] = isRsa ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
    // A self-signed leaf's key verifies a certificate signature (its own), so keyCertSign
    // (RFC 5280 section 4.2.1.3); OpenSSL's X509_check_issued, and so X509Certificate.checkIssued,
    // refuse the certificate as its own issuer without it.
    if (issuer === 'self') usages.push('keyCertSign');
    add(pkijs.id_KeyUsage, true, keyUsage(usages));
    if (role.eku.length > 0) {
      add(
        pkijs.id_ExtKeyUsage,
        false,
        new asn1js.Sequence({ value: role.eku.map((p) => new asn1js.ObjectIdentifier({ value: EKU_OIDS[p] })) }),
      );
    }
    // RFC 5280 section 4.2.1.6: critical when the subject is empty.
    if (role.san !== undefined) add(pkijs.id_SubjectAltName, subject.length === 2, role.san);
  }
  add(pkijs.id_SubjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: keyId }));
  add(
    pkijs.id_AuthorityKeyIdentifier,
    false,
    new asn1js.Sequence({
      value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: authorityKeyId })],
    }),
  );
  cert.extensions = extensions;

  await cert.sign(issuer === 'self' ? keyPair.privateKey : issuer.privateKey, 'SHA-256');
  return { der: new Uint8Array(cert.toSchema(true).toBER(false)), keyId };
}

type KeyUsageBit = 'digitalSignature' | 'keyEncipherment' | 'keyCertSign' | 'cRLSign';
const KEY_USAGE_BIT: Readonly<Record<KeyUsageBit, number>> = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
};

/** KeyUsage BIT STRING in DER: named-bit list without trailing zero bits (X.690 section 11.2.2). */
function keyUsage(usages: readonly KeyUsageBit[]): asn1js.BitString {
  let bits = 0;
  for (const u of usages) bits |= 0x80 >> KEY_USAGE_BIT[u];
  let unused = 0;
  while (unused < 7 && (bits & (1 << unused)) === 0) unused++;
  return new asn1js.BitString({ valueHex: Uint8Array.of(bits), unusedBits: unused });
}

function nameFromDer(der: Uint8Array): pkijs.RelativeDistinguishedNames {
  // Keeps valueBeforeDecode, so pkijs writes our exact bytes back (it would flatten RDNs otherwise).
  return pkijs.RelativeDistinguishedNames.fromBER(toArrayBuffer(der));
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', key)));
}

async function finish(built: Built, keyPair: CryptoKeyPair, chainTail: string): Promise<DevCertificate> {
  const certPem = pem('CERTIFICATE', built.der);
  return {
    certPem,
    keyPem: await privateKeyPem(keyPair.privateKey),
    der: built.der,
    chainPem: certPem + chainTail,
    keyPair,
  };
}

function makeAuthority(
  cert: DevCertificate,
  signer: Signer,
  keyType: DevKeyType,
  notAfter: Date,
  chainTail: string,
): DevCertificateAuthority {
  // chainTail: this CA's certificate plus its parent intermediates, never the root; a peer sends
  // leaf + intermediates and the verifier holds the root.
  const tailForChildren = chainTail;
  return {
    ...cert,
    async issue(options: CertificateOptions): Promise<DevCertificate> {
      const o = resolveCertificateOptions('issue()', options);
      const keyPair = o.keyPair ?? (await generateDevKeyPair(o.keyType));
      const built = await buildCertificate(o.subject, o.serial, o.notBefore, o.notAfter, keyPair, { kind: 'leaf', eku: o.eku, san: o.san }, signer);
      return finish(built, keyPair, tailForChildren);
    },
    async issueIntermediate(options: { subject: NameInput }): Promise<DevCertificateAuthority> {
      const o = validateOptions<{ subject: NameInput }>('issueIntermediate()', options, { subject: isNameInput });
      if (options === undefined || o.subject === undefined) {
        throw new TypeError('issueIntermediate(): option "subject" is required (a CN string or an array of RDNs).');
      }
      const subject = encodeName('issueIntermediate()', 'subject', o.subject);
      const keyPair = await generateDevKeyPair(keyType);
      const notBefore = truncateToSeconds(new Date(Date.now() - HOUR_MS));
      const built = await buildCertificate(subject, randomSerial(), notBefore, notAfter, keyPair, { kind: 'ca', pathLength: 0 }, signer);
      const dev = await finish(built, keyPair, tailForChildren);
      return makeAuthority(dev, { name: subject, privateKey: keyPair.privateKey, keyId: built.keyId }, keyType, notAfter, dev.certPem + tailForChildren);
    },
  };
}

/** Creates a self-signed root CA (basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign). */
export async function createCertificateAuthority(options?: CertificateAuthorityOptions): Promise<DevCertificateAuthority> {
  const factory = 'createCertificateAuthority()';
  const o = validateOptions<CertificateAuthorityOptions>(factory, options, {
    subject: isNameInput,
    notBefore: isDate,
    notAfter: isDate,
    keyType: isOneOf(KEY_TYPES),
  });
  const subject = encodeName(factory, 'subject', o.subject ?? 'mtls-observability development CA');
  const now = Date.now();
  const notBefore = truncateToSeconds(o.notBefore ?? new Date(now - HOUR_MS));
  const notAfter = truncateToSeconds(o.notAfter ?? new Date(now + 3650 * DAY_MS));
  const keyType = o.keyType ?? 'ec-p256';
  const keyPair = await generateDevKeyPair(keyType);
  const built = await buildCertificate(subject, randomSerial(), notBefore, notAfter, keyPair, { kind: 'ca' }, 'self');
  const dev = await finish(built, keyPair, '');
  return makeAuthority(dev, { name: subject, privateKey: keyPair.privateKey, keyId: built.keyId }, keyType, notAfter, '');
}

/** Creates a self-signed leaf certificate (basicConstraints CA:FALSE). */
export async function createSelfSignedCertificate(options: CertificateOptions): Promise<DevCertificate> {
  const o = resolveCertificateOptions('createSelfSignedCertificate()', options);
  const keyPair = o.keyPair ?? (await generateDevKeyPair(o.keyType));
  const built = await buildCertificate(o.subject, o.serial, o.notBefore, o.notAfter, keyPair, { kind: 'leaf', eku: o.eku, san: o.san }, 'self');
  return finish(built, keyPair, '');
}

function clientSubject(cn: string): NameInput {
  return [
    { type: 'O', value: DEV_CLIENT_ORGANIZATION },
    { type: 'CN', value: cn },
  ];
}

/** Creates the standard development set (see {@link DevCertificateSet}). Takes well under a second. */
export async function createDevCertificates(): Promise<DevCertificateSet> {
  const now = Date.now();
  const [ca, untrustedCa] = await Promise.all([
    createCertificateAuthority(),
    createCertificateAuthority({ subject: 'mtls-observability untrusted CA' }),
  ]);
  const [server, valid, expired, notYetValid, untrusted, selfSigned, wrongEku, hostile] = await Promise.all([
    ca.issue({
      subject: 'localhost',
      san: { dns: ['localhost'], ip: ['127.0.0.1', '::1'] },
      extendedKeyUsage: ['serverAuth'],
    }),
    ca.issue({
      subject: clientSubject('alice'),
      san: { uri: [DEV_CLIENT_SPIFFE_ID], dns: ['alice.example.org'] },
    }),
    ca.issue({
      subject: clientSubject('expired'),
      notBefore: new Date(now - 30 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    }),
    ca.issue({
      subject: clientSubject('not-yet-valid'),
      notBefore: new Date(now + DAY_MS),
      notAfter: new Date(now + 30 * DAY_MS),
    }),
    untrustedCa.issue({ subject: clientSubject('untrusted') }),
    createSelfSignedCertificate({ subject: clientSubject('self-signed') }),
    ca.issue({ subject: clientSubject('wrong-eku'), extendedKeyUsage: ['serverAuth'] }),
    ca.issue({ subject: clientSubject(HOSTILE_COMMON_NAME) }),
  ]);
  return {
    ca,
    untrustedCa,
    server,
    clients: { valid, expired, notYetValid, untrusted, selfSigned, wrongEku, hostile },
  };
}

/** File base names of the clients written by {@link writeDevCertificates}. */
export const DEV_CLIENT_FILE_NAMES: Readonly<Record<keyof DevCertificateSet['clients'], string>> = Object.freeze({
  valid: 'valid',
  expired: 'expired',
  notYetValid: 'not-yet-valid',
  untrusted: 'untrusted',
  selfSigned: 'self-signed',
  wrongEku: 'wrong-eku',
  hostile: 'hostile',
});

/**
 * Writes `ca.pem`, `server.pem`, `server-key.pem`, `client-<name>.pem` and `client-<name>-key.pem`
 * (names from {@link DEV_CLIENT_FILE_NAMES}) into `dir`, creating it. Certificate files hold the
 * chain to send (leaf plus intermediates); keys are PKCS#8 PEM with mode 0600. The CA's private
 * key is never written. Returns the written paths in that order. When any file exists and
 * `overwrite` is not set, rejects with an `EEXIST` error before writing anything.
 */
export async function writeDevCertificates(
  dir: string,
  set?: DevCertificateSet,
  options?: WriteDevCertificatesOptions,
): Promise<string[]> {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new TypeError(`writeDevCertificates(): dir must be a non-empty string, got ${describeValue(dir)}.`);
  }
  const o = validateOptions<WriteDevCertificatesOptions>('writeDevCertificates()', options, {
    overwrite: (v) => (typeof v === 'boolean' ? undefined : 'a boolean'),
  });
  const files: { name: string; content: string; secret: boolean }[] = [];
  const plan = (name: string, content: string, secret = false) => files.push({ name, content, secret });
  const s = set ?? (await createDevCertificates());
  plan('ca.pem', s.ca.certPem);
  plan('server.pem', s.server.chainPem);
  plan('server-key.pem', s.server.keyPem, true);
  for (const [key, base] of Object.entries(DEV_CLIENT_FILE_NAMES) as [keyof DevCertificateSet['clients'], string][]) {
    plan(`client-${base}.pem`, s.clients[key].chainPem);
    plan(`client-${base}-key.pem`, s.clients[key].keyPem, true);
  }
  await mkdir(dir, { recursive: true });
  const paths = files.map((f) => join(dir, f.name));
  if (o.overwrite !== true) {
    const existing: string[] = [];
    for (const path of paths) {
      if (await access(path).then(() => true, () => false)) existing.push(path);
    }
    if (existing.length > 0) {
      const err = new Error(`writeDevCertificates(): refusing to overwrite ${existing.join(', ')} (pass { overwrite: true }).`) as Error & { code: string; paths: string[] };
      err.code = 'EEXIST';
      err.paths = existing;
      throw err;
    }
  }
  for (const [i, f] of files.entries()) {
    const path = paths[i]!;
    await writeFile(path, f.content, { mode: f.secret ? 0o600 : 0o644, flag: o.overwrite === true ? 'w' : 'wx' });
    // writeFile's mode applies only when it creates the file.
    if (f.secret) await chmod(path, 0o600);
  }
  return paths;
}
