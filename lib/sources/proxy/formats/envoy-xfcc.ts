/**
 * Envoy's `x-forwarded-client-cert` (XFCC), as documented in Envoy's HTTP connection manager
 * header reference and written by `ConnectionManagerUtility::mutateXfccRequestHeader`
 * (source/common/http/conn_manager_utility.cc):
 *
 * - elements are separated by `,`, one per proxy; `APPEND_FORWARD` adds this hop's element at
 *   the end, `SANITIZE_SET` replaces the header with it;
 * - an element is `;`-separated `key=value` pairs, keys case-insensitive, written in a fixed
 *   order: `By` (once per URI SAN of Envoy's own certificate), `Hash` (SHA-256 of the client
 *   certificate, lowercase hex), then as configured `Cert` and `Chain` (quoted URL-encoded PEM),
 *   `Subject` (quoted RFC 2253 DN, present even when empty), `URI` (once per URI SAN, `URI=` when
 *   there is none) and `DNS` (once per DNS SAN);
 * - the documented quoting: a value containing `,` `;` or `=` is double-quoted, and `"` inside it
 *   is written `\"`. That is the only escape. Envoy writes `Subject` as `"` + DN + `"` (the DN's
 *   own RFC 2253 escaping makes every `"` in it `\"`) and `By`, `URI`, `DNS` not quoted at all
 *   (its source has a TODO about it).
 *
 * So a certificate can put `,` or `;` into the header through a URI or DNS SAN. Reading is
 * therefore strict: a `SANITIZE_SET` header must be exactly one element, every element must have
 * Envoy's keys in Envoy's order, and when the certificate is forwarded its URI and DNS SANs must
 * be exactly the element's `URI` and `DNS` values.
 */
import { createHash } from 'node:crypto';
import { parseCertificate } from '../../../certificate/parse.js';
import type { PeerCertificate } from '../../../certificate/peer-certificate.js';
import { ProxyHeaderError, type ForwardedCertificate, type FormatLimits, type ProxyFormat } from './format.js';
import { percentEncodedPemCertificates } from './decoding.js';
import { checkChainLength } from '../limits.js';

/** One XFCC element: its `key=value` pairs in order, values unquoted. */
export type XfccElement = readonly (readonly [key: string, value: string])[];

/** A pair as read, with whether its value was quoted (Envoy quotes some keys and not others). */
interface XfccPair {
  readonly key: string;
  readonly value: string;
  readonly quoted: boolean;
}

const XFCC_KEY = /^[A-Za-z0-9_-]+$/;
// Keys a proxy writes once per element; a second one is an injection attempt or a broken proxy.
const SINGLE_VALUED_KEYS = new Set(['hash', 'cert', 'chain', 'subject']);

function invalid(message: string): ProxyHeaderError {
  return new ProxyHeaderError('HEADER_INVALID', `x-forwarded-client-cert: ${message}`);
}

function parsePairs(value: string, maxElements: number): XfccPair[][] {
  const elements: XfccPair[][] = [];
  let pairs: XfccPair[] = [];
  const seen = new Set<string>();
  const length = value.length;
  let i = 0;
  for (;;) {
    while (value[i] === ' ') i++;
    const equals = value.indexOf('=', i);
    if (equals === -1) throw invalid('a pair has no "="');
    const key = value.slice(i, equals);
    if (!XFCC_KEY.test(key)) throw invalid('a key is empty or not a token');
    const lowerKey = key.toLowerCase();
    if (SINGLE_VALUED_KEYS.has(lowerKey)) {
      if (seen.has(lowerKey)) throw invalid(`duplicate ${key} in one element`);
      seen.add(lowerKey);
    }
    i = equals + 1;
    let pairValue = '';
    const quoted = value[i] === '"';
    if (quoted) {
      i++;
      let closed = false;
      let start = i;
      while (i < length) {
        const c = value[i]!;
        if (c === '"') {
          pairValue += value.slice(start, i);
          i++;
          closed = true;
          break;
        }
        if (c === '\\' && value[i + 1] === '"') {
          // `\"` is a quote, but before `,` `;` or the end it may as well be a backslash that
          // ends the value and the closing quote: ambiguous, so refused rather than guessed.
          const after = value[i + 2];
          if (after === undefined || after === ',' || after === ';') {
            throw invalid('a quoted value ends in a backslash (ambiguous)');
          }
          pairValue += `${value.slice(start, i)}"`;
          i += 2;
          start = i;
          continue;
        }
        // Any other backslash is data: Envoy's only escape is \", so RFC 2253's own escapes in
        // Subject (\, \+ \\ \C3\A9) stay as they are.
        i++;
      }
      if (!closed) throw invalid('an unterminated quoted value');
      if (i < length && value[i] !== ';' && value[i] !== ',') {
        throw invalid('text after a closing quote');
      }
    } else {
      let end = i;
      while (end < length && value[end] !== ';' && value[end] !== ',') end++;
      pairValue = value.slice(i, end);
      if (pairValue.includes('"')) throw invalid('a quote inside an unquoted value');
      i = end;
    }
    pairs.push({ key, value: pairValue, quoted });
    if (i >= length || value[i] === ',') {
      elements.push(pairs);
      if (i >= length) return elements;
      checkChainLength(elements.length + 1, maxElements, 'elements in x-forwarded-client-cert');
      pairs = [];
      seen.clear();
    }
    i++;
  }
}

/**
 * Parses an XFCC header value into its elements (leftmost first), by Envoy's quoting rule: `,`
 * `;` and `=` inside double quotes are data, `\"` is a quote, and every other backslash is data
 * (Envoy's `Subject` is an RFC 2253 DN whose own escapes must reach the reader unchanged:
 * `Subject="CN=x\\\,O=y"` is the one attribute `CN=x\\\,O=y`). A quoted value that ends in a
 * backslash is ambiguous and refused. Throws {@link ProxyHeaderError}: `HEADER_CHAIN_TOO_LONG`
 * past `maxElements`, `HEADER_INVALID` for any grammar error.
 *
 * This parses the grammar only. Envoy writes `URI`, `DNS` and `By` unquoted, so a certificate
 * whose SAN contains `,` or `;` can add elements or pairs here: values from a header are only as
 * good as the checks of the `envoy-xfcc` format (exactly one element under `SANITIZE_SET`,
 * Envoy's key order, SANs compared with the forwarded certificate).
 */
export function parseXfcc(value: string, maxElements: number): XfccElement[] {
  return parsePairs(value, maxElements).map((pairs) => pairs.map(({ key, value: v }) => [key, v] as const));
}

/**
 * Serialises one element so that {@link parseXfcc} gives it back unchanged: a value containing
 * `,` `;` `=` or `"` is quoted with `"` written `\"`. Throws {@link ProxyHeaderError}
 * (`HEADER_INVALID`) for a key that is not a token and for a value the rule cannot write
 * unambiguously: one that needs quotes and ends in a backslash or has a `"` before `,` or `;`.
 */
export function serializeXfccElement(element: XfccElement): string {
  return element
    .map(([key, value]) => {
      if (!XFCC_KEY.test(key)) throw invalid('a key is empty or not a token');
      if (!/[,;="]/.test(value)) return `${key}=${value}`;
      if (value.endsWith('\\') || /"[,;]/.test(value)) {
        throw invalid(`the value of ${key} cannot be quoted unambiguously`);
      }
      return `${key}="${value.replace(/"/g, '\\"')}"`;
    })
    .join(';');
}

/** The first value of `key` (case-insensitive) in an element. */
export function xfccValue(element: XfccElement, key: string): string | undefined {
  const lower = key.toLowerCase();
  return element.find(([k]) => k.toLowerCase() === lower)?.[1];
}

// Envoy's order of keys in an element, and whether each is quoted (mutateXfccRequestHeader, with
// set_current_client_cert_details read in the order cert, chain, subject, uri, dns).
const KEY_ORDER = ['by', 'hash', 'cert', 'chain', 'subject', 'uri', 'dns'] as const;
const QUOTED_KEYS = new Set(['cert', 'chain', 'subject']);
const REPEATED_KEYS = new Set(['by', 'uri', 'dns']);
const SHA256_HEX = /^[0-9A-Fa-f]{64}$/;
// Characters that Envoy cannot write into an unquoted URI or DNS value without changing the
// header's structure.
const XFCC_SPECIAL = /[,;"]/;

/** The fields of one element that the format checks and uses. */
interface EnvoyElement {
  readonly hash: string;
  readonly cert: string | undefined;
  readonly chain: string | undefined;
  readonly uris: readonly string[] | undefined;
  readonly dnsNames: readonly string[] | undefined;
}

/** Checks one element against Envoy's grammar: its keys, their order, quoting and values. */
function envoyElement(pairs: readonly XfccPair[]): EnvoyElement {
  let position = -1;
  let hash: string | undefined;
  let cert: string | undefined;
  let chain: string | undefined;
  let uris: string[] | undefined;
  let dnsNames: string[] | undefined;
  for (const { key, value, quoted } of pairs) {
    const lower = key.toLowerCase();
    const index = (KEY_ORDER as readonly string[]).indexOf(lower);
    if (index === -1) throw invalid(`${key} is not a key Envoy writes`);
    if (index < position || (index === position && !REPEATED_KEYS.has(lower))) {
      throw invalid(`${key} is out of Envoy's order (By, Hash, Cert, Chain, Subject, URI, DNS)`);
    }
    position = index;
    if (quoted !== QUOTED_KEYS.has(lower)) {
      throw invalid(`${key} is ${quoted ? '' : 'not '}quoted, which Envoy does not write`);
    }
    switch (lower) {
      case 'hash':
        if (!SHA256_HEX.test(value)) throw invalid('Hash is not 64 hexadecimal digits');
        hash = value.toLowerCase();
        break;
      case 'cert':
        cert = value;
        break;
      case 'chain':
        chain = value;
        break;
      case 'uri':
        (uris ??= []).push(value);
        break;
      case 'dns':
        (dnsNames ??= []).push(value);
        break;
      // By (the proxy's own URI SAN) and Subject are not read: the certificate is parsed instead.
    }
  }
  // Envoy writes an element only for a presented client certificate, always with its Hash.
  if (hash === undefined) throw invalid('an element has no Hash');
  return { hash, cert, chain, uris, dnsNames };
}

function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * The element's `URI` and `DNS` values must be what Envoy writes for `certificate`: refused when a
 * SAN holds a character that Envoy would have written unquoted (the header could not be read
 * unambiguously), or when the values differ from the SANs (something was split or injected).
 */
function checkSans(element: EnvoyElement, certificate: PeerCertificate): void {
  const { uri, dns } = certificate.san;
  if (element.uris !== undefined) {
    if (uri.some((name) => XFCC_SPECIAL.test(name))) {
      throw invalid('the certificate has a URI SAN with , ; or " (Envoy writes it unquoted)');
    }
    // `URI=` stands for no URI SAN; Envoy before 1.18 wrote only the first one.
    const written = uri.length === 0 ? [''] : uri;
    if (!sameList(element.uris, written) && !sameList(element.uris, written.slice(0, 1))) {
      throw invalid('URI does not list the certificate\'s URI SANs');
    }
  }
  if (element.dnsNames !== undefined) {
    if (dns.some((name) => XFCC_SPECIAL.test(name))) {
      throw invalid('the certificate has a DNS SAN with , ; or " (Envoy writes it unquoted)');
    }
    if (!sameList(element.dnsNames, dns)) throw invalid('DNS does not list the certificate\'s DNS SANs');
  }
}

/**
 * The client certificate of one element (from `Cert`, or the first of `Chain`, which includes the
 * leaf), checked against `Hash`; `undefined` when the element carries neither. `CERT_HASH_MISMATCH`
 * when a certificate is not the one Envoy hashed.
 */
function elementCertificate(element: EnvoyElement, limits: FormatLimits): Uint8Array | undefined {
  let der: Uint8Array | undefined;
  if (element.cert !== undefined) {
    // Cert is the client certificate alone (Chain carries the chain).
    der = percentEncodedPemCertificates(element.cert, 1)[0]!;
    if (sha256Hex(der) !== element.hash) throw hashMismatch();
  }
  if (element.chain !== undefined) {
    const leaf = percentEncodedPemCertificates(element.chain, limits.maxChainLength)[0]!;
    if (sha256Hex(leaf) !== element.hash) throw hashMismatch();
    der ??= leaf;
  }
  return der;
}

function hashMismatch(): ProxyHeaderError {
  return new ProxyHeaderError('CERT_HASH_MISMATCH', 'x-forwarded-client-cert: a certificate does not match Hash');
}

function readXfcc(header: (role: string) => string | undefined, limits: FormatLimits): ForwardedCertificate {
  const value = header('xfcc');
  if (value === undefined) return { kind: 'none' };
  const mode = limits.forwardClientCertDetails ?? 'SANITIZE_SET';
  const elements = parsePairs(value, limits.maxChainLength);
  // SANITIZE_SET replaces the header with this hop's one element: a second element can only come
  // from a comma inside an unquoted value, i.e. from the client's certificate.
  if (mode === 'SANITIZE_SET' && elements.length !== 1) {
    throw invalid(`${elements.length} elements, but SANITIZE_SET writes exactly one`);
  }
  const parse = limits.certificate ?? ((der: Uint8Array) => parseCertificate(der));
  const checked = elements.map(envoyElement);
  // Under APPEND_FORWARD, an element split by a comma in a URI or DNS SAN no longer matches its
  // own certificate; earlier elements that carry one are checked for that too.
  for (let i = 0; i < checked.length - 1; i++) {
    const der = elementCertificate(checked[i]!, limits);
    if (der !== undefined) checkSans(checked[i]!, parse(der, 'unverified'));
  }
  const nearest = checked[checked.length - 1]!;
  let der: Uint8Array | undefined;
  try {
    der = elementCertificate(nearest, limits);
  } catch (error) {
    if (error instanceof ProxyHeaderError && error.reason === 'CERT_HASH_MISMATCH') {
      return { kind: 'failed', reason: 'CERT_HASH_MISMATCH' };
    }
    throw error;
  }
  // Envoy writes an element only for a verified mTLS connection (every mode but
  // ALWAYS_FORWARD_ONLY removes XFCC otherwise). Without Cert or Chain there is nothing to parse,
  // but the peer was verified.
  if (der === undefined) return { kind: 'verified' };
  checkSans(nearest, parse(der, 'verified'));
  return { kind: 'verified', der };
}

/**
 * Envoy `x-forwarded-client-cert`: the nearest (rightmost) element's `Cert` or `Chain` leaf,
 * checked against `Hash` and its `URI` / `DNS` values.
 */
export const envoyXfccFormat: ProxyFormat = {
  name: 'envoy-xfcc',
  headers: { xfcc: 'x-forwarded-client-cert' },
  read: readXfcc,
};
