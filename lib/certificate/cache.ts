/**
 * Caches that keep certificate parsing off the per-request path: a bounded LRU of parsed
 * certificates keyed by their DER (reconnecting clients are not re-parsed), and a
 * per-connection identity map keyed by the socket (keep-alive requests never parse).
 */
import { DEFAULT_MAX_CERTIFICATE_BYTES, isCertificateByteLimit, parseCertificateWithin } from './parse.js';
import { CertificateTooLargeError } from '../errors.js';
import { withCertificateJson } from './json.js';
import type { PeerCertificate } from './peer-certificate.js';
import { isIntegerInRange, validateOptions } from '../internal/options.js';

/** Default {@link CertificateCacheOptions.maxEntries}. */
export const DEFAULT_CERTIFICATE_CACHE_SIZE = 1000;
/** Default {@link CertificateCacheOptions.maxBytes}: 8 MiB. */
export const DEFAULT_CERTIFICATE_CACHE_BYTES = 8 * 1024 * 1024;
/** Default {@link CertificateCacheOptions.maxUnverifiedEntries} (or `maxEntries` when smaller). */
export const DEFAULT_UNVERIFIED_CACHE_SIZE = 100;
/** Default {@link CertificateCacheOptions.maxUnverifiedBytes} (or `maxBytes` when smaller): 1 MiB. */
export const DEFAULT_UNVERIFIED_CACHE_BYTES = 1024 * 1024;

/** Options of {@link CertificateCache}. */
export interface CertificateCacheOptions {
  /**
   * Most certificates kept that their source verified; the least recently used is evicted first.
   * `0` disables caching of verified certificates, and with the default `maxUnverifiedEntries`
   * of all (every call parses). Default: `1000`.
   */
  readonly maxEntries?: number;
  /**
   * Most bytes the verified certificates may weigh together (see {@link certificateCacheWeight});
   * the least recently used are evicted until the cache is under both this and `maxEntries`. An
   * integer from 0 to 4294967296. Default: `8388608` (8 MiB; typical client certificates weigh a
   * few KiB, so `maxEntries` is what binds for them).
   */
  readonly maxBytes?: number;
  /**
   * Most unverified certificates kept (presented by clients that failed verification, or
   * forwarded by a proxy as unverified), in their own LRU. Default: `100`, or `maxEntries` when
   * that is smaller.
   */
  readonly maxUnverifiedEntries?: number;
  /**
   * Most bytes the unverified certificates may weigh together. An integer from 0 to 4294967296.
   * Default: `1048576` (1 MiB), or `maxBytes` when that is smaller.
   */
  readonly maxUnverifiedBytes?: number;
  /**
   * Largest certificate accepted, in bytes of DER. A larger one throws `CertificateTooLargeError`
   * (`ERR_MTLS_CERT_TOO_LARGE`) before it is parsed, keyed or cached. An integer from 256 to
   * 1048576. Default: `16384` (16 KiB).
   */
  readonly maxCertificateBytes?: number;
}

/** Whether the source that presents a certificate verified it. */
export type CertificateTrust = 'verified' | 'unverified';

/** A cached parse: the certificate, or why it failed; `der` is what it was parsed from. */
type Entry = (
  | { readonly der: Uint8Array; readonly certificate: PeerCertificate }
  | { readonly der: Uint8Array; readonly error: unknown }
) & { readonly weight: number };

/** Bytes of the DER's end that key an entry: a certificate ends in its signature. */
const KEY_BYTES = 32;

const MAX_BYTES_OPTION = isIntegerInRange(0, 2 ** 32);

// Estimates of V8's heap layout on 64-bit, rounded up: what an entry holds besides its strings'
// characters and the DER's bytes.
/** A string's header (map, hash, length). */
const STRING_BYTES = 16;
/** A plain object's header plus one slot per property. */
const OBJECT_BYTES = 24;
const SLOT_BYTES = 8;
/** An array: the JSArray and its backing store's header. */
const ARRAY_BYTES = 48;
/** A Date, with the fields V8 caches in it. */
const DATE_BYTES = 128;
/** A Uint8Array with its ArrayBuffer and backing-store records. */
const TYPED_ARRAY_BYTES = 256;
/** The Map's slots (with room for its growth), the entry object and its key string. */
const ENTRY_BYTES = 8 * SLOT_BYTES + OBJECT_BYTES + 3 * SLOT_BYTES + STRING_BYTES + KEY_BYTES + 64;
/** An error object with its captured stack. */
const ERROR_BYTES = 2048;

/**
 * A string at one byte per character when it is ASCII and two otherwise. V8 keeps a string in one
 * byte per character when it can; ASCII built from one-byte pieces always can.
 */
function stringWeight(value: unknown): number {
  if (typeof value !== 'string') return 0;
  const length = value.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      bytes = 2 * length;
      break;
    }
  }
  return STRING_BYTES + aligned(bytes);
}

/** A string known to be ASCII (hex digits, a dotted OID, a short name): one byte per character. */
function asciiWeight(value: unknown): number {
  return typeof value === 'string' ? STRING_BYTES + aligned(value.length) : 0;
}

/**
 * A distinguished-name text at two bytes per character: joined from slices of its values, it is
 * stored that wide as soon as one value held a character above U+00FF, even when every such
 * character was escaped to ASCII.
 */
function nameTextWeight(value: unknown): number {
  return typeof value === 'string' ? STRING_BYTES + aligned(2 * value.length) : 0;
}

/** V8 allocates in steps of 8 bytes. */
function aligned(bytes: number): number {
  return (bytes + 7) & ~7;
}

/**
 * An array's own bytes. Arrays built by `push` keep spare capacity: V8 grows a full backing store
 * to 1.5 times the length plus 16, which bounds the slots counted here.
 */
function arrayBytes(length: number): number {
  return ARRAY_BYTES + (length === 0 ? 0 : SLOT_BYTES * (length + (length >> 1) + 17));
}

function stringListWeight(list: unknown): number {
  if (!Array.isArray(list)) return 0;
  let bytes = arrayBytes(list.length);
  for (let i = 0; i < list.length; i++) bytes += stringWeight(list[i]);
  return bytes;
}

function attributesWeight(rdns: unknown): number {
  if (!Array.isArray(rdns)) return 0;
  let bytes = arrayBytes(rdns.length);
  for (let i = 0; i < rdns.length; i++) {
    const rdn: unknown = rdns[i];
    if (!Array.isArray(rdn)) continue;
    bytes += arrayBytes(rdn.length);
    for (let j = 0; j < rdn.length; j++) {
      const attribute = (rdn[j] ?? {}) as { type?: unknown; oid?: unknown; value?: unknown };
      bytes += OBJECT_BYTES + 3 * SLOT_BYTES + asciiWeight(attribute.type) + asciiWeight(attribute.oid) + stringWeight(attribute.value);
    }
  }
  return bytes;
}

/**
 * What {@link CertificateCache} counts for one cached certificate, in bytes: its DER, every
 * string's characters (one byte each when ASCII, else two; subject and issuer always two), plus
 * estimates of V8's object, array and Date sizes. Meant to be an upper bound of the heap the entry
 * keeps.
 */
export function certificateCacheWeight(certificate: PeerCertificate): number {
  const c = certificate as Partial<PeerCertificate>;
  const san = (c.san ?? {}) as Partial<PeerCertificate['san']>;
  return (
    ENTRY_BYTES +
    OBJECT_BYTES + 10 * SLOT_BYTES +
    TYPED_ARRAY_BYTES + (c.der instanceof Uint8Array ? aligned(c.der.byteLength) : 0) +
    nameTextWeight(c.subject) + nameTextWeight(c.issuer) +
    // The SPIFFE ID is one of the URI SANs, the same string.
    asciiWeight(c.serialNumber) + asciiWeight(c.fingerprint256) +
    2 * DATE_BYTES +
    attributesWeight(c.subjectAttributes) +
    OBJECT_BYTES + 4 * SLOT_BYTES +
    stringListWeight(san.dns) + stringListWeight(san.uri) + stringListWeight(san.email) + stringListWeight(san.ip)
  );
}

function errorWeight(der: Uint8Array, error: unknown): number {
  const message = error instanceof Error ? error.message : undefined;
  return ENTRY_BYTES + TYPED_ARRAY_BYTES + der.byteLength + ERROR_BYTES + stringWeight(message);
}

/** One LRU bounded in entries and in accounted bytes. Map order is insertion order: oldest first. */
class BoundedLru {
  readonly entries = new Map<string, Entry>();
  bytes = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  /** The entry under `key`, without marking it used. */
  peek(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Marks the entry under `key` most recently used. */
  touch(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
  }

  remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.weight;
  }

  /**
   * Adds `entry` as the most recently used, in place of what `key` held, then evicts the least
   * recently used until both bounds hold. An entry heavier than the whole budget is not kept.
   */
  insert(key: string, entry: Entry): void {
    if (this.maxEntries === 0 || entry.weight > this.maxBytes) return;
    const previous = this.entries.get(key);
    if (previous !== undefined) this.remove(key, previous);
    this.entries.set(key, entry);
    this.bytes += entry.weight;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.remove(oldestKey, oldest);
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * Parsed certificates, bounded in entries and in bytes, found by the last 32 bytes of the DER
 * (the end of the signature) as a Latin-1 string and confirmed by comparing the whole DER. The
 * short key is cheaper to build and hash than one of the whole DER or a digest of it; two
 * certificates that share their last 32 bytes (a crafted one) only replace each other's entry,
 * and a lookup never returns a certificate whose DER differs from the one presented. Failures
 * are cached too, so a client that keeps presenting a malformed certificate is parsed once, not
 * per connection. Returned certificates are frozen (they are shared by every connection that
 * presents them).
 *
 * Bounds against hostile clients (`rejectUnauthorized: false` lets anyone present any
 * certificate):
 * - A certificate over `maxCertificateBytes` is refused before it is parsed, keyed or cached.
 * - Every entry is weighed ({@link certificateCacheWeight}: DER, strings, arrays, objects) and
 *   the least recently used are evicted until the cache is under its entry and byte bounds.
 * - Verified and unverified certificates live in two separate LRUs, each with its own entry and
 *   byte budget. An unverified certificate costs its presenter nothing but a TCP connection and a
 *   key pair, so a flood of them (or one crafted to end in a verified client's bytes) only evicts
 *   other unverified entries; verified clients keep theirs. A lookup for an unverified
 *   presentation may return a verified entry for the same DER but does not mark it used. An
 *   unverified entry presented later as verified moves to the verified LRU without a new parse.
 */
export class CertificateCache {
  readonly #verified: BoundedLru;
  readonly #unverified: BoundedLru;
  readonly #maxCertificateBytes: number;
  #parses = 0;

  constructor(options?: CertificateCacheOptions) {
    const o = validateOptions<CertificateCacheOptions>('new CertificateCache()', options, {
      maxEntries: isIntegerInRange(0, 1_000_000),
      maxBytes: MAX_BYTES_OPTION,
      maxUnverifiedEntries: isIntegerInRange(0, 1_000_000),
      maxUnverifiedBytes: MAX_BYTES_OPTION,
      maxCertificateBytes: isCertificateByteLimit,
    });
    const maxEntries = o.maxEntries ?? DEFAULT_CERTIFICATE_CACHE_SIZE;
    const maxBytes = o.maxBytes ?? DEFAULT_CERTIFICATE_CACHE_BYTES;
    this.#verified = new BoundedLru(maxEntries, maxBytes);
    this.#unverified = new BoundedLru(
      o.maxUnverifiedEntries ?? Math.min(DEFAULT_UNVERIFIED_CACHE_SIZE, maxEntries),
      o.maxUnverifiedBytes ?? Math.min(DEFAULT_UNVERIFIED_CACHE_BYTES, maxBytes),
    );
    this.#maxCertificateBytes = o.maxCertificateBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES;
  }

  /** Most verified entries kept. */
  get maxEntries(): number {
    return this.#verified.maxEntries;
  }

  /** Most accounted bytes of verified entries. */
  get maxBytes(): number {
    return this.#verified.maxBytes;
  }

  /** Most unverified entries kept. */
  get maxUnverifiedEntries(): number {
    return this.#unverified.maxEntries;
  }

  /** Most accounted bytes of unverified entries. */
  get maxUnverifiedBytes(): number {
    return this.#unverified.maxBytes;
  }

  /** Largest certificate accepted, in bytes of DER. */
  get maxCertificateBytes(): number {
    return this.#maxCertificateBytes;
  }

  /** Entries currently held, verified and unverified. */
  get size(): number {
    return this.#verified.entries.size + this.#unverified.entries.size;
  }

  /** Accounted bytes currently held, verified and unverified ({@link certificateCacheWeight}). */
  get bytes(): number {
    return this.#verified.bytes + this.#unverified.bytes;
  }

  /** Unverified entries currently held. */
  get unverifiedSize(): number {
    return this.#unverified.entries.size;
  }

  /** Accounted bytes of the unverified entries currently held. */
  get unverifiedBytes(): number {
    return this.#unverified.bytes;
  }

  /** How many times the parser ran (cache misses), since construction. */
  get parseCount(): number {
    return this.#parses;
  }

  /**
   * The parsed certificate for `der`, from the cache when this DER was seen before. `trust` says
   * whether the source verified this certificate (Node's TLS layer, a trusted proxy's verdict);
   * it decides which LRU the entry goes to.
   * @throws {CertificateTooLargeError} (`ERR_MTLS_CERT_TOO_LARGE`) for a DER over
   *   `maxCertificateBytes`, without parsing; `CertificateParseError` (`ERR_MTLS_CERT_PARSE`)
   *   for a DER that does not parse; a cached failure is thrown again without re-parsing.
   */
  get(der: Uint8Array, trust: CertificateTrust): PeerCertificate {
    if (der.byteLength > this.#maxCertificateBytes) throw new CertificateTooLargeError(der.byteLength, this.#maxCertificateBytes);
    const verified = this.#verified;
    const unverified = this.#unverified;
    if (verified.maxEntries === 0 && unverified.maxEntries === 0) return this.#parseFrozen(der);
    const bytes = asBuffer(der);
    const key = bytes.toString('latin1', Math.max(0, bytes.length - KEY_BYTES));
    const known = verified.peek(key);
    if (known !== undefined && bytes.equals(known.der)) {
      if (trust === 'verified') verified.touch(key, known);
      return unwrap(known);
    }
    const seen = unverified.peek(key);
    if (seen !== undefined && bytes.equals(seen.der)) {
      if (trust === 'verified') {
        unverified.remove(key, seen);
        verified.insert(key, seen);
      } else {
        unverified.touch(key, seen);
      }
      return unwrap(seen);
    }
    const entry = this.#parseEntry(bytes);
    (trust === 'verified' ? verified : unverified).insert(key, entry);
    return unwrap(entry);
  }

  /** Drops every entry. */
  clear(): void {
    this.#verified.clear();
    this.#unverified.clear();
  }

  #parseEntry(der: Buffer): Entry {
    try {
      // The certificate holds its own copy of the DER, which the entry compares against.
      const certificate = this.#parseFrozen(der);
      return { der: certificate.der, certificate, weight: certificateCacheWeight(certificate) };
    } catch (error) {
      // A copy with its own ArrayBuffer: `der` may be a view of a pooled socket buffer.
      const own = new Uint8Array(der);
      return { der: own, error, weight: errorWeight(own, error) };
    }
  }

  #parseFrozen(der: Uint8Array): PeerCertificate {
    this.#parses++;
    return freezeCertificate(parseCertificateWithin(der, this.#maxCertificateBytes));
  }
}

function unwrap(entry: Entry): PeerCertificate {
  if ('error' in entry) throw entry.error;
  return entry.certificate;
}

function asBuffer(der: Uint8Array): Buffer {
  return Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
}

/**
 * Freezes everything but `der` (a typed array with elements cannot be frozen), after giving a
 * certificate from a custom `parse` the `toJSON` parseCertificate's results have.
 */
function freezeCertificate(certificate: PeerCertificate): PeerCertificate {
  withCertificateJson(certificate);
  for (const rdn of certificate.subjectAttributes) {
    for (const attribute of rdn) Object.freeze(attribute);
    Object.freeze(rdn);
  }
  Object.freeze(certificate.subjectAttributes);
  for (const list of Object.values(certificate.san)) Object.freeze(list);
  Object.freeze(certificate.san);
  return Object.freeze(certificate);
}

let processDefault: CertificateCache | undefined;

/**
 * The process-default certificate cache (default options), created on first use. The middleware
 * without `certificates` options, `getPeerIdentity` and `startIncomingSpanHook` all use it, so a
 * certificate one of them parsed is not parsed again by the others.
 */
export function defaultCertificateCache(): CertificateCache {
  return (processDefault ??= new CertificateCache());
}
