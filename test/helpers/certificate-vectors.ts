/**
 * Certificate test vectors shared by test/certificate/parse.test.ts (exact parseCertificate output) and
 * test/e2e/openssl-compat.test.ts (the same certificates through `openssl x509`). Each vector says
 * what we print and, where OpenSSL prints something else, what it prints and which documented
 * deviation (docs/identity-format.md) explains the difference.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createCertificateAuthority, generateDevKeyPair, type CertificateOptions, type DevCertificate } from '../../lib/dev-certs/index.js';
import type { DnAttribute, SubjectAltNames } from '../../lib/certificate/peer-certificate.js';

/** The issuer of every vector. */
export const VECTOR_ISSUER = 'CN=Vectors Root,O=Vector CA\\, Inc.,C=US';

/** Deviations from `openssl x509 -nameopt RFC2253,-esc_msb`, named as in docs/identity-format.md. */
export type Deviation =
  | 'multi-valued RDN order'
  | 'value exactly #'
  | 'Unicode log-unsafe characters'
  | 'OIDs outside the attribute table'
  | 'values OpenSSL refuses to load';

export interface CertificateVector {
  readonly name: string;
  readonly options: CertificateOptions;
  readonly subject: string;
  readonly serialNumber?: string;
  readonly subjectAttributes?: readonly (readonly DnAttribute[])[];
  readonly san?: SubjectAltNames;
  /** `spiffeId`; `null` when it must be absent. */
  readonly spiffeId?: string | null;
  readonly notBefore?: string;
  readonly notAfter?: string;
  /** What OpenSSL prints where it differs, and why. */
  readonly openssl?: { readonly subject?: string; readonly deviation: Deviation };
}

export interface BuiltVector extends CertificateVector {
  readonly certificate: DevCertificate;
}

const NO_SAN: SubjectAltNames = { dns: [], uri: [], email: [], ip: [] };

const serial = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

export const CERTIFICATE_VECTORS: readonly CertificateVector[] = [
  {
    name: 'multi-valued RDN keeps DER order',
    options: { subject: [{ type: 'C', value: 'US' }, { type: 'O', value: 'Acme' }, [{ type: 'CN', value: 'carol' }, { type: 'UID', value: 'c1234' }]] },
    subject: 'CN=carol+UID=c1234,O=Acme,C=US',
    subjectAttributes: [
      [{ type: 'C', oid: '2.5.4.6', value: 'US' }],
      [{ type: 'O', oid: '2.5.4.10', value: 'Acme' }],
      [{ type: 'CN', oid: '2.5.4.3', value: 'carol' }, { type: 'UID', oid: '0.9.2342.19200300.100.1.1', value: 'c1234' }],
    ],
    openssl: { subject: 'UID=c1234+CN=carol,O=Acme,C=US', deviation: 'multi-valued RDN order' },
  },
  {
    name: 'RFC 4514 specials anywhere',
    options: { subject: [{ type: 'O', value: 'a"b+c,d;e<f>g\\h=i' }, { type: 'CN', value: 'x' }] },
    subject: 'CN=x,O=a\\"b\\+c\\,d\\;e\\<f\\>g\\\\h=i',
  },
  {
    name: 'leading # and space, trailing space',
    options: { subject: [{ type: 'OU', value: '#hash' }, { type: 'OU', value: ' leading' }, { type: 'CN', value: 'trailing ' }, { type: 'L', value: ' ' }] },
    subject: 'L=\\ ,CN=trailing\\ ,OU=\\ leading,OU=\\#hash',
  },
  {
    name: 'value exactly #',
    options: { subject: [{ type: 'OU', value: '#' }, { type: 'CN', value: 'hash' }] },
    subject: 'CN=hash,OU=\\#',
    subjectAttributes: [[{ type: 'OU', oid: '2.5.4.11', value: '#' }], [{ type: 'CN', oid: '2.5.4.3', value: 'hash' }]],
    openssl: { subject: 'CN=hash,OU=#', deviation: 'value exactly #' },
  },
  {
    name: 'UTF-8 Latin, CJK and emoji kept as is',
    options: { subject: [{ type: 'O', value: 'Zoë Ltd' }, { type: 'OU', value: '日本語クライアント' }, { type: 'CN', value: 'lock 🔐 key' }] },
    subject: 'CN=lock 🔐 key,OU=日本語クライアント,O=Zoë Ltd',
  },
  {
    name: 'newline and other C0 controls, DEL',
    options: { subject: [{ type: 'CN', value: 'mallory"\n127.0.0.1 - admin\r\t\x00\x1b[31m\x7f' }] },
    subject: 'CN=mallory\\"\\0A127.0.0.1 - admin\\0D\\09\\00\\1B[31m\\7F',
  },
  {
    name: 'C1 control, line separators, bidi and zero-width characters',
    options: { subject: [{ type: 'CN', value: 'a\u0085b\u2028c\u2029d\u202Ee\u200Bf\uFEFFg\u2066h\u200Fi' }] },
    subject: 'CN=a\\C2\\85b\\E2\\80\\A8c\\E2\\80\\A9d\\E2\\80\\AEe\\E2\\80\\8Bf\\EF\\BB\\BFg\\E2\\81\\A6h\\E2\\80\\8Fi',
    openssl: { subject: 'CN=a\u0085b\u2028c\u2029d\u202Ee\u200Bf\uFEFFg\u2066h\u200Fi', deviation: 'Unicode log-unsafe characters' },
  },
  {
    name: 'soft hyphen, Arabic letter mark, word joiner, invisible operators, annotations, tag characters, Hangul filler',
    options: { subject: [{ type: 'CN', value: 'a\u00adb\u061cc\u2060d\u2064e\u206ff\ufff9g\u{e0041}h\u3164i' }] },
    subject: 'CN=a\\C2\\ADb\\D8\\9Cc\\E2\\81\\A0d\\E2\\81\\A4e\\E2\\81\\AFf\\EF\\BF\\B9g\\F3\\A0\\81\\81h\\E3\\85\\A4i',
    openssl: { subject: 'CN=a\u00adb\u061cc\u2060d\u2064e\u206ff\ufff9g\u{e0041}h\u3164i', deviation: 'Unicode log-unsafe characters' },
  },
  {
    name: 'BMPString, TeletexString and UniversalString values',
    options: {
      subject: [
        { type: 'O', value: 'Zoë Ltd', encoding: 'teletex' },
        { type: 'OU', value: '日本語 BMP', encoding: 'bmp' },
        { type: 'CN', value: '𝔘niversal 🔐', encoding: 'universal' },
      ],
    },
    subject: 'CN=𝔘niversal 🔐,OU=日本語 BMP,O=Zoë Ltd',
  },
  {
    name: 'PrintableString and IA5String values, OpenSSL short names',
    options: {
      subject: [
        { type: 'C', value: 'DE' },
        { type: 'ST', value: 'Berlin' },
        { type: 'L', value: 'Berlin' },
        { type: 'street', value: 'Main St 1' },
        { type: 'DC', value: 'example' },
        { type: 'jurisdictionC', value: 'DE' },
        { type: 'serialNumber', value: 'HRB 1234', encoding: 'printable' },
        { type: 'title', value: 'Dr' },
        { type: 'emailAddress', value: 'dora@example.org' },
        { type: 'CN', value: 'dora' },
      ],
    },
    subject: 'CN=dora,emailAddress=dora@example.org,title=Dr,serialNumber=HRB 1234,jurisdictionC=DE,DC=example,street=Main St 1,L=Berlin,ST=Berlin,C=DE',
  },
  {
    name: 'unknown attribute OID as #hex of the DER value',
    options: { subject: [{ type: '1.2.3.4', value: 'hello' }, { type: 'CN', value: 'eve' }] },
    subject: 'CN=eve,1.2.3.4=#0C0568656C6C6F',
    subjectAttributes: [[{ type: '1.2.3.4', oid: '1.2.3.4', value: 'hello' }], [{ type: 'CN', oid: '2.5.4.3', value: 'eve' }]],
  },
  {
    name: 'empty subject with a SAN',
    options: { subject: [], san: { dns: ['empty.example'] } },
    subject: '',
    subjectAttributes: [],
    san: { dns: ['empty.example'], uri: [], email: [], ip: [] },
  },
  { name: 'serial 0', options: { subject: 'serial', serialNumber: serial(0x00) }, subject: 'CN=serial', serialNumber: '00' },
  { name: 'serial 1', options: { subject: 'serial', serialNumber: serial(0x01) }, subject: 'CN=serial', serialNumber: '01' },
  {
    name: 'serial of 20 octets',
    options: { subject: 'serial', serialNumber: serial(0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0xff) },
    subject: 'CN=serial',
    serialNumber: '7F0102030405060708090A0B0C0D0E0F101112FF',
  },
  {
    name: 'serial with the high bit set (DER sign byte dropped)',
    options: { subject: 'serial', serialNumber: serial(0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01) },
    subject: 'CN=serial',
    serialNumber: '80000000000000000000000000000001',
  },
  { name: 'serial -1', options: { subject: 'serial', serialNumber: serial(0xff) }, subject: 'CN=serial', serialNumber: '-01' },
  { name: 'serial -128', options: { subject: 'serial', serialNumber: serial(0x80) }, subject: 'CN=serial', serialNumber: '-80' },
  { name: 'serial -129', options: { subject: 'serial', serialNumber: serial(0xff, 0x7f) }, subject: 'CN=serial', serialNumber: '-81' },
  { name: 'serial -256', options: { subject: 'serial', serialNumber: serial(0xff, 0x00) }, subject: 'CN=serial', serialNumber: '-0100' },
  {
    name: 'notAfter 2049 (UTCTime) and notBefore 1950 (UTCTime)',
    options: { subject: 'dates', notBefore: new Date('1950-01-01T00:00:00Z'), notAfter: new Date('2049-12-31T23:59:59Z') },
    subject: 'CN=dates',
    notBefore: '1950-01-01T00:00:00.000Z',
    notAfter: '2049-12-31T23:59:59.000Z',
  },
  {
    name: 'notAfter 2050 (GeneralizedTime)',
    options: { subject: 'dates', notBefore: new Date('2026-02-28T12:34:56Z'), notAfter: new Date('2050-01-01T00:00:00Z') },
    subject: 'CN=dates',
    notBefore: '2026-02-28T12:34:56.000Z',
    notAfter: '2050-01-01T00:00:00.000Z',
  },
  {
    name: 'IPv4, IPv6 and IPv4-mapped SANs, a SPIFFE ID',
    options: {
      subject: 'svc',
      san: {
        dns: ['svc.example', 'x.example, DNS:evil.example'],
        uri: ['spiffe://example.org/ns/default/sa/svc', 'https://svc.example/'],
        email: ['svc@example.org'],
        ip: ['192.0.2.7', '2001:DB8:0:0:0:0:0:7', '::ffff:192.0.2.1', '2001:db8:0:0:1:0:0:1', '2001:0:0:1:0:0:0:1', '::1', '::', 'fe80::', '2001:db8:1:2:3:4:5:6', '2001:db8::1:0'],
      },
    },
    subject: 'CN=svc',
    san: {
      dns: ['svc.example', 'x.example, DNS:evil.example'],
      uri: ['spiffe://example.org/ns/default/sa/svc', 'https://svc.example/'],
      email: ['svc@example.org'],
      ip: ['192.0.2.7', '2001:db8::7', '::ffff:192.0.2.1', '2001:db8::1:0:0:1', '2001:0:0:1::1', '::1', '::', 'fe80::', '2001:db8:1:2:3:4:5:6', '2001:db8::1:0'],
    },
    spiffeId: 'spiffe://example.org/ns/default/sa/svc',
  },
  {
    name: 'two SPIFFE URIs: no spiffeId',
    options: { subject: 'twice', san: { uri: ['spiffe://example.org/a', 'spiffe://example.org/b'] } },
    subject: 'CN=twice',
    san: { dns: [], uri: ['spiffe://example.org/a', 'spiffe://example.org/b'], email: [], ip: [] },
    spiffeId: null,
  },
  {
    name: 'RSA-2048 key, no SAN',
    options: { subject: [{ type: 'O', value: 'Acme' }, { type: 'CN', value: 'rsa' }], keyType: 'rsa-2048' },
    subject: 'CN=rsa,O=Acme',
    san: NO_SAN,
    spiffeId: null,
  },
];

let built: Promise<BuiltVector[]> | undefined;

/** Issues every vector from one CA (memoized per process). */
export function buildCertificateVectors(): Promise<BuiltVector[]> {
  built ??= (async () => {
    const ca = await createCertificateAuthority({
      subject: [{ type: 'C', value: 'US' }, { type: 'O', value: 'Vector CA, Inc.' }, { type: 'CN', value: 'Vectors Root' }],
    });
    const keyPair = await generateDevKeyPair('ec-p256');
    const out: BuiltVector[] = [];
    for (const vector of CERTIFICATE_VECTORS) {
      const options = vector.options.keyType === undefined ? { ...vector.options, keyPair } : vector.options;
      out.push({ ...vector, certificate: await ca.issue(options) });
    }
    return out;
  })();
  return built;
}

// ---------------------------------------------------------------------------------------------
// A minimal DER writer for hand-built structures (CSR, hostile nesting, bad encodings).

function lengthOctets(length: number): number[] {
  if (length < 0x80) return [length];
  const out: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) out.unshift(rest & 0xff);
  return [0x80 | out.length, ...out];
}

/** One DER element: tag, minimal length, content. */
export function tlv(tag: number, ...content: (Uint8Array | number[])[]): Uint8Array {
  const body = Buffer.concat(content.map((part) => Uint8Array.from(part)));
  return Uint8Array.from([tag, ...lengthOctets(body.length), ...body]);
}

/** `depth` nested SEQUENCEs around an empty one, built without recursion. */
export function nestedSequences(depth: number): Uint8Array {
  let inner: Uint8Array = Uint8Array.from([0x30, 0x00]);
  for (let i = 1; i < depth; i++) {
    const header = [0x30, ...lengthOctets(inner.length)];
    const next = new Uint8Array(header.length + inner.length);
    next.set(header);
    next.set(inner, header.length);
    inner = next;
  }
  return inner;
}

/** A PKCS #10 certification request (RFC 2986) with a real EC key and a zero signature. */
export function certificationRequestDer(): Uint8Array {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const name = tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, [0x55, 0x04, 0x03]), tlv(0x0c, Buffer.from('csr')))));
  const info = tlv(0x30, tlv(0x02, [0x00]), name, spki, tlv(0xa0));
  const ecdsaWithSha256 = tlv(0x30, tlv(0x06, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
  return tlv(0x30, info, ecdsaWithSha256, tlv(0x03, [0x00, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]));
}

/** Deterministic pseudo-random bytes (mulberry32), for seeded fuzz loops. */
export function seededBytes(seed: number, length: number): Uint8Array {
  let state = seed >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hand-built certificates: any TBSCertificate content, a real EC key, an all-zero signature
// (parsing never verifies signatures).

const ECDSA_WITH_SHA256 = tlv(0x30, tlv(0x06, [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
let spkiDer: Uint8Array | undefined;

/** DER of `SEQUENCE OF SET { SEQUENCE { oid, value } }` from raw AVA parts. */
export function nameDer(rdns: readonly (readonly [number[], Uint8Array])[][]): Uint8Array {
  return tlv(0x30, ...rdns.map((rdn) => tlv(0x31, ...rdn.map(([oid, value]) => tlv(0x30, tlv(0x06, oid), value)))));
}

/** A v3 certificate with the given parts; `extensions` are complete Extension SEQUENCEs. */
export function handBuiltCertificate(parts: {
  /** The whole `[0] EXPLICIT` version element; default v3. An empty array omits it (v1). */
  version?: number[];
  serial?: number[];
  issuer?: Uint8Array;
  validity?: Uint8Array;
  subject?: Uint8Array;
  extensions?: readonly Uint8Array[];
  /** Elements appended to the TBSCertificate after the extensions. */
  tbsTail?: readonly Uint8Array[];
}): Uint8Array {
  spkiDer ??= new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  const cn = (text: string) => nameDer([[[[0x55, 0x04, 0x03], tlv(0x0c, Buffer.from(text))]]]);
  const validity = tlv(0x30, tlv(0x17, Buffer.from('260101000000Z')), tlv(0x17, Buffer.from('360101000000Z')));
  const tbs = tlv(
    0x30,
    Uint8Array.from(parts.version ?? tlv(0xa0, tlv(0x02, [0x02]))),
    tlv(0x02, parts.serial ?? [0x01]),
    ECDSA_WITH_SHA256,
    parts.issuer ?? cn('hand-built issuer'),
    parts.validity ?? validity,
    parts.subject ?? cn('hand-built'),
    spkiDer,
    ...(parts.extensions ? [tlv(0xa3, tlv(0x30, ...parts.extensions))] : []),
    ...(parts.tbsTail ?? []),
  );
  return tlv(0x30, tbs, ECDSA_WITH_SHA256, tlv(0x03, [0x00, 0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]));
}

/** A subjectAltName Extension from raw GeneralName elements. */
export function subjectAltNameExtension(...names: Uint8Array[]): Uint8Array {
  return tlv(0x30, tlv(0x06, [0x55, 0x1d, 0x11]), tlv(0x04, tlv(0x30, ...names)));
}

/**
 * The size limit the hostile inputs are parsed with (`parseCertificate(input, { maxBytes })`):
 * above their size, so the parser's own work on them is what runs, not the size check.
 */
export const HOSTILE_MAX_BYTES = 128 * 1024;

/**
 * Inputs of up to 64 KiB built to be slow or deep; each must parse or fail within milliseconds
 * when let past the size limit ({@link HOSTILE_MAX_BYTES}).
 */
export function hostileInputs(): { readonly name: string; readonly input: Uint8Array | string; readonly outcome: string }[] {
  const KIB = 1024;
  const cnOid = [0x55, 0x04, 0x03];
  const manyRdns = nameDer(Array.from({ length: 2000 }, (_, i) => [[cnOid, tlv(0x0c, Buffer.from(`n${i % 100}`))] as const]));
  const manyAvas = nameDer([Array.from({ length: 4000 }, () => [cnOid, tlv(0x0c, Buffer.from('m,'))] as const)]);
  const controlValue = nameDer([[[cnOid, tlv(0x0c, Buffer.alloc(60 * KIB, 0x0a))]]]);
  const bidiValue = nameDer([[[cnOid, tlv(0x0c, Buffer.from('\u202e'.repeat(20 * KIB)))]]]);
  const bmpValue = nameDer([[[cnOid, tlv(0x1e, Buffer.alloc(60 * KIB, 0x41))]]]);
  const universalValue = nameDer([[[cnOid, tlv(0x1c, Buffer.alloc(60 * KIB, 0x00).fill(0x41, 0).map((_, i) => (i % 4 === 3 ? 0x41 : 0)))]]]);
  const longOid = nameDer([[[[0x2a, ...new Array<number>(60 * KIB).fill(0x01)], tlv(0x0c, Buffer.from('x'))]]]);
  const bigArcs = nameDer([[[[0x2a, ...Array.from({ length: 3000 }, () => [0x8f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).flat()], tlv(0x0c, Buffer.from('x'))]]]);
  const fullName = nameDer(Array.from({ length: 128 }, () => [[cnOid, tlv(0x0c, Buffer.from('\u2028,'.repeat(25)))] as const]));
  const fullSans = subjectAltNameExtension(...Array.from({ length: 1024 }, (_, i) => tlv(0x82, Buffer.from(`h${i}.example`))));
  const manySans = subjectAltNameExtension(...Array.from({ length: 4000 }, (_, i) => (i % 2 ? tlv(0x82, Buffer.from(`h${i}.example`)) : tlv(0x87, new Uint8Array(16)))));
  const manyExtensions = Array.from({ length: 3000 }, (_, i) => tlv(0x30, tlv(0x06, [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x81 + (i >> 7), i & 0x7f]), tlv(0x04, [0x05, 0x00])));
  const flat = Buffer.concat([Buffer.from([0x30, 0x82, 0xff, 0xf8]), Buffer.alloc(0xfff8, 0)]);
  for (let i = 4; i < flat.length; i += 2) flat[i] = 0x05; // a SEQUENCE of 32K NULLs
  const randomPem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(seededBytes(9, 48 * KIB)).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  return [
    { name: '10,000-level nesting', input: nestedSequences(10_000), outcome: 'DER nesting deeper than 32 levels at offset 128' },
    { name: '64 KiB random bytes', input: seededBytes(1, 64 * KIB), outcome: 'expected Certificate SEQUENCE (tag 0x30) at offset 0, found tag 0xF3' },
    { name: '64 KiB random bytes in a PEM', input: randomPem, outcome: 'expected Certificate SEQUENCE (tag 0x30) at offset 0, found tag 0xFC' },
    { name: '2000 RDNs in subject and issuer', input: handBuiltCertificate({ subject: manyRdns, issuer: manyRdns }), outcome: 'subject has more than 128 attributes (at offset 29642)' },
    { name: 'one RDN with 4000 AVAs needing escapes', input: handBuiltCertificate({ subject: manyAvas }), outcome: 'subject has more than 128 attributes (at offset 1506)' },
    { name: '128 RDNs needing escapes in subject and issuer', input: handBuiltCertificate({ subject: fullName, issuer: fullName }), outcome: 'parsed' },
    { name: '60 KiB of newlines in a CN', input: handBuiltCertificate({ subject: controlValue }), outcome: 'parsed' },
    { name: '20K U+202E in a CN', input: handBuiltCertificate({ subject: bidiValue }), outcome: 'parsed' },
    { name: '60 KiB BMPString', input: handBuiltCertificate({ subject: bmpValue }), outcome: 'parsed' },
    { name: '60 KiB UniversalString', input: handBuiltCertificate({ subject: universalValue }), outcome: 'parsed' },
    { name: '60K-arc attribute OID', input: handBuiltCertificate({ subject: longOid }), outcome: 'parsed' },
    { name: '3000 128-bit OID arcs', input: handBuiltCertificate({ subject: bigArcs }), outcome: 'parsed' },
    { name: '4000 SAN entries', input: handBuiltCertificate({ extensions: [manySans] }), outcome: 'subjectAltName has more than 1024 entries (at offset 16572)' },
    { name: '1024 SAN entries', input: handBuiltCertificate({ extensions: [fullSans] }), outcome: 'parsed' },
    { name: '3000 extensions', input: handBuiltCertificate({ extensions: manyExtensions }), outcome: 'parsed' },
    { name: '60 KB negative serial', input: handBuiltCertificate({ serial: [0x80, ...new Array<number>(60_000).fill(0x12)] }), outcome: 'parsed' },
    { name: '32K flat NULLs', input: Uint8Array.from(flat), outcome: 'expected TBSCertificate SEQUENCE (tag 0x30) at offset 4, found tag 0x05' },
    { name: 'length 0xFFFFFFFF', input: Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00]), outcome: 'DER length at offset 1 exceeds input' },
  ];
}

/** A vector built by hand (types the generator cannot write), with what OpenSSL prints. */
export interface HandBuiltVector {
  readonly name: string;
  readonly der: Uint8Array;
  readonly subject: string;
  /** OpenSSL's subject where it differs; `null` when OpenSSL refuses to load the certificate. */
  readonly openssl?: { readonly subject: string | null; readonly deviation: Deviation };
}

const CN_OID = [0x55, 0x04, 0x03];
const cnWith = (value: Uint8Array) => handBuiltCertificate({ subject: nameDer([[[CN_OID, value]]]) });

let handBuilt: HandBuiltVector[] | undefined;

/** Hand-built vectors for string types and values lib/dev-certs/ does not write. */
export function handBuiltVectors(): readonly HandBuiltVector[] {
  handBuilt ??= [
    { name: 'NumericString value', der: cnWith(tlv(0x12, Buffer.from('123'))), subject: 'CN=123' },
    { name: 'PrintableString with a Latin-1 octet', der: cnWith(tlv(0x13, [0x61, 0xe9])), subject: 'CN=a\u00e9' },
    { name: 'NUL inside a UTF8String', der: cnWith(tlv(0x0c, [0x61, 0x00, 0x62])), subject: 'CN=a\\00b' },
    { name: '= is not escaped', der: cnWith(tlv(0x0c, Buffer.from('a=b'))), subject: 'CN=a=b' },
    { name: 'a constructed value is dumped', der: cnWith(tlv(0x30, tlv(0x0c, Buffer.from('x')))), subject: 'CN=#30030C0178' },
    {
      name: '128-bit OID arc (2.25 UUID)',
      der: handBuiltCertificate({ subject: nameDer([[[[0x69, 0x83, ...new Array<number>(17).fill(0xff), 0x7f], tlv(0x0c, Buffer.from('u'))]]]) }),
      subject: '2.25.340282366920938463463374607431768211455=#0C0175',
    },
    {
      name: 'an OID OpenSSL names but that is no attribute type',
      der: handBuiltCertificate({ subject: nameDer([[[[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01], tlv(0x0c, Buffer.from('aia'))]]]) }),
      subject: '1.3.6.1.5.5.7.1.1=#0C03616961',
      openssl: { subject: 'authorityInfoAccess=aia', deviation: 'OIDs outside the attribute table' },
    },
    {
      name: 'invalid UTF-8 in a UTF8String',
      der: cnWith(tlv(0x0c, [0x61, 0xff])),
      subject: 'CN=#0C0261FF',
      openssl: { subject: null, deviation: 'values OpenSSL refuses to load' },
    },
    {
      name: 'surrogates in a BMPString',
      der: cnWith(tlv(0x1e, [0xd8, 0x3d, 0xdd, 0x10])),
      subject: 'CN=#1E04D83DDD10',
      openssl: { subject: null, deviation: 'values OpenSSL refuses to load' },
    },
    {
      name: 'GeneralString value',
      der: cnWith(tlv(0x1b, Buffer.from('gen'))),
      subject: 'CN=#1B0367656E',
      openssl: { subject: null, deviation: 'values OpenSSL refuses to load' },
    },
    {
      name: 'VisibleString value',
      der: cnWith(tlv(0x1a, Buffer.from('vis'))),
      subject: 'CN=#1A03766973',
      openssl: { subject: null, deviation: 'values OpenSSL refuses to load' },
    },
    {
      name: 'INTEGER value',
      der: cnWith(tlv(0x02, [0x05])),
      subject: 'CN=#020105',
      openssl: { subject: null, deviation: 'values OpenSSL refuses to load' },
    },
  ];
  return handBuilt;
}
