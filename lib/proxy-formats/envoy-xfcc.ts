/**
 * Envoy's `x-forwarded-client-cert` (XFCC), as documented in Envoy's HTTP connection manager
 * header reference and emitted by `mutateXfccRequestHeader`:
 *
 * - elements are separated by `,`, one per proxy; an appending proxy adds its element at the end,
 *   so the **rightmost** element is the nearest (trusted) proxy's and earlier ones may come from
 *   anyone upstream;
 * - an element is `;`-separated `key=value` pairs, keys case-insensitive;
 * - a value containing `,` `;` or `=` is double-quoted, with `"` written `\"`.
 *
 * Splitting only outside quotes matters for security: a Subject such as `"CN=x;Cert=..."` must
 * not become a second `Cert` pair (the client-certificate-auth bypass fixed in its PR #229).
 */
import { createHash } from 'node:crypto';
import {
  ProxyHeaderError,
  percentEncodedPemCertificates,
  type ForwardedCertificate,
  type FormatLimits,
  type ProxyFormat,
} from './encoding.js';

/** One XFCC element: its `key=value` pairs in order, values unquoted. */
export type XfccElement = readonly (readonly [key: string, value: string])[];

const XFCC_KEY = /^[A-Za-z0-9_-]+$/;
// Keys a proxy writes once per element; a second one is an injection attempt or a broken proxy.
const SINGLE_VALUED_KEYS = new Set(['hash', 'cert', 'chain', 'subject']);

function invalid(message: string): ProxyHeaderError {
  return new ProxyHeaderError('HEADER_INVALID', `x-forwarded-client-cert: ${message}`);
}

/**
 * Parses an XFCC header value into its elements (leftmost first). Quote-aware: `,` `;` and `=`
 * inside double quotes are data, `\"` is a quote and `\\` a backslash; any other backslash is kept
 * (Envoy's Subject is an RFC 2253 DN with its own escapes). Throws {@link ProxyHeaderError}:
 * `HEADER_CHAIN_TOO_LONG` past `maxElements`, `HEADER_INVALID` for any grammar error.
 */
export function parseXfcc(value: string, maxElements: number): XfccElement[] {
  const elements: XfccElement[] = [];
  let pairs: (readonly [string, string])[] = [];
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
    if (value[i] === '"') {
      i++;
      let closed = false;
      while (i < length) {
        const c = value[i]!;
        if (c === '\\') {
          const next = value[i + 1];
          if (next === undefined) break;
          if (next === '"' || next === '\\') {
            pairValue += next;
            i += 2;
          } else {
            pairValue += c;
            i++;
          }
        } else if (c === '"') {
          i++;
          closed = true;
          break;
        } else {
          pairValue += c;
          i++;
        }
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
    pairs.push([key, pairValue]);
    if (i >= length || value[i] === ',') {
      elements.push(pairs);
      if (i >= length) return elements;
      if (elements.length === maxElements) {
        throw new ProxyHeaderError(
          'HEADER_CHAIN_TOO_LONG',
          `x-forwarded-client-cert: more than ${maxElements} elements`,
        );
      }
      pairs = [];
      seen.clear();
    }
    i++;
  }
}

function needsQuotes(value: string): boolean {
  return value === '' || /[,;="\\ ]/.test(value);
}

/** Serialises one element so that {@link parseXfcc} gives it back unchanged. */
export function serializeXfccElement(element: XfccElement): string {
  return element
    .map(([key, value]) => {
      if (!XFCC_KEY.test(key)) throw invalid('a key is empty or not a token');
      return needsQuotes(value)
        ? `${key}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
        : `${key}=${value}`;
    })
    .join(';');
}

/** The first value of `key` (case-insensitive) in an element. */
export function xfccValue(element: XfccElement, key: string): string | undefined {
  const lower = key.toLowerCase();
  return element.find(([k]) => k.toLowerCase() === lower)?.[1];
}

function readXfcc(
  header: (role: string) => string | undefined,
  limits: FormatLimits,
): ForwardedCertificate {
  const value = header('xfcc');
  if (value === undefined) return { kind: 'none' };
  const elements = parseXfcc(value, limits.maxChainLength);
  const nearest = elements[elements.length - 1]!;
  const cert = xfccValue(nearest, 'Cert');
  const hash = xfccValue(nearest, 'Hash');
  if (cert === undefined) {
    // Envoy writes an element only for a verified mTLS connection (every mode but
    // ALWAYS_FORWARD_ONLY removes XFCC otherwise), always with Hash; without Cert there is
    // nothing to parse, but the peer was verified.
    if (hash === undefined) throw invalid('the nearest element has neither Cert nor Hash');
    return { kind: 'verified' };
  }
  // Cert is the client certificate alone (Chain carries the chain).
  const der = percentEncodedPemCertificates(cert, 1)[0]!;
  if (hash !== undefined && createHash('sha256').update(der).digest('hex') !== hash.toLowerCase()) {
    return { kind: 'failed', reason: 'CERT_HASH_MISMATCH' };
  }
  return { kind: 'verified', der };
}

/** Envoy `x-forwarded-client-cert`: the rightmost element's `Cert` (checked against `Hash`). */
export const envoyXfccFormat: ProxyFormat = {
  name: 'envoy-xfcc',
  headers: { xfcc: 'x-forwarded-client-cert' },
  read: readXfcc,
};
