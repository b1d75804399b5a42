/**
 * Caches that keep certificate parsing off the per-request path: a bounded LRU of parsed
 * certificates keyed by their DER (reconnecting clients are not re-parsed), and a
 * per-connection identity map keyed by the socket (keep-alive requests never parse).
 */
import { parseCertificate } from './certificate.js';
import type { PeerCertificate, PeerIdentity } from './types.js';
import { isFunction, isIntegerInRange, validateOptions } from './options.js';
import { processWide } from './process-wide.js';

/** Default {@link CertificateCacheOptions.maxEntries}. */
export const DEFAULT_CERTIFICATE_CACHE_SIZE = 1000;

/** Options of {@link CertificateCache}. */
export interface CertificateCacheOptions {
  /**
   * Most distinct certificates kept; the least recently used is evicted first. `0` disables
   * caching (every call parses). Default: `1000` (about 3 MB for typical client certificates).
   */
  readonly maxEntries?: number;
  /**
   * The parser. Default: {@link parseCertificate}. Meant for tests and instrumentation (count
   * parses); it must throw for input it cannot parse.
   */
  readonly parse?: (der: Uint8Array) => PeerCertificate;
}

/** Whether the source that presents a certificate verified it. */
export type CertificateTrust = 'verified' | 'unverified';

/** A cached parse: the certificate, or why it failed; `der` is what it was parsed from. */
type Entry = { readonly der: Uint8Array; readonly certificate: PeerCertificate } | { readonly der: Uint8Array; readonly error: unknown };

/** Bytes of the DER's end that key an entry: a certificate ends in its signature. */
const KEY_BYTES = 32;

/**
 * A bounded LRU of parsed certificates, found by the last 32 bytes of the DER (the end of the
 * signature) as a Latin-1 string and confirmed by comparing the whole DER. A string of the whole
 * DER as the key cost ~11 µs per new connection in a busy server (the string's copy and hash, cold
 * caches), this ~4 µs; a SHA-256 of the DER cost more still. Two certificates that share their last
 * 32 bytes (a crafted one) only replace each other's entry: a lookup never returns a certificate
 * whose DER differs from the one presented. Failures are cached too, so a client that keeps
 * presenting a malformed certificate is parsed once, not per connection. Returned certificates are
 * frozen (they are shared by every connection that presents them).
 */
export class CertificateCache {
  readonly #maxEntries: number;
  readonly #parse: (der: Uint8Array) => PeerCertificate;
  readonly #entries = new Map<string, Entry>();
  #parses = 0;

  constructor(options?: CertificateCacheOptions) {
    const o = validateOptions<CertificateCacheOptions>('new CertificateCache()', options, {
      maxEntries: isIntegerInRange(0, 1_000_000),
      parse: isFunction,
    });
    this.#maxEntries = o.maxEntries ?? DEFAULT_CERTIFICATE_CACHE_SIZE;
    this.#parse = o.parse ?? parseCertificate;
  }

  /** Most entries kept. */
  get maxEntries(): number {
    return this.#maxEntries;
  }

  /** Entries currently held. */
  get size(): number {
    return this.#entries.size;
  }

  /** How many times the parser ran (cache misses), since construction. */
  get parseCount(): number {
    return this.#parses;
  }

  /**
   * The parsed certificate for `der`, from the cache when this DER was seen before. `trust` says
   * whether the source verified this certificate (Node's TLS layer, a trusted proxy's verdict).
   * @throws whatever the parser throws (`CertificateParseError` for the default parser); a
   *   cached failure is thrown again without re-parsing.
   */
  get(der: Uint8Array, trust: CertificateTrust): PeerCertificate {
    void trust;
    if (this.#maxEntries === 0) return this.#parseFrozen(der);
    const bytes = asBuffer(der);
    const key = bytes.toString('latin1', Math.max(0, bytes.length - KEY_BYTES));
    let entry = this.#entries.get(key);
    // Map iteration order is insertion order: re-inserting marks the entry most recently used.
    this.#entries.delete(key);
    if (entry === undefined || !bytes.equals(entry.der)) {
      entry = this.#parseEntry(bytes);
      if (this.#entries.size >= this.#maxEntries) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
    }
    this.#entries.set(key, entry);
    if ('error' in entry) throw entry.error;
    return entry.certificate;
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
  }

  #parseEntry(der: Buffer): Entry {
    try {
      const certificate = this.#parseFrozen(der);
      // parseCertificate's result holds its own copy of the DER; anything else gets one.
      const own = certificate.der instanceof Uint8Array && der.equals(certificate.der) ? certificate.der : Buffer.from(der);
      return { der: own, certificate };
    } catch (error) {
      return { der: Buffer.from(der), error };
    }
  }

  #parseFrozen(der: Uint8Array): PeerCertificate {
    this.#parses++;
    return freezeCertificate(this.#parse(der));
  }
}

function asBuffer(der: Uint8Array): Buffer {
  return Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
}

/** Freezes everything but `der` (a typed array with elements cannot be frozen). */
function freezeCertificate(certificate: PeerCertificate): PeerCertificate {
  for (const rdn of certificate.subjectAttributes) {
    for (const attribute of rdn) Object.freeze(attribute);
    Object.freeze(rdn);
  }
  Object.freeze(certificate.subjectAttributes);
  for (const list of Object.values(certificate.san)) Object.freeze(list);
  Object.freeze(certificate.san);
  return Object.freeze(certificate);
}

/** What the connection cache holds per connection. */
export interface ConnectionIdentity {
  readonly identity: PeerIdentity;
  /**
   * Whether the connection can still change its certificate (TLS 1.2 and older renegotiate; TLS 1.3
   * cannot). A request on such a connection keeps its own copy of the identity it was resolved
   * with, so a renegotiation while it is in flight cannot change what its log line says.
   */
  readonly renegotiable: boolean;
}

/**
 * Identities per TLS connection. Keyed by the socket object (for HTTP/2 the session's socket), so
 * an entry lives exactly as long as the connection is reachable. The TLS source deletes an entry
 * when the connection completes another handshake (a renegotiation), so it is read again.
 */
export class ConnectionIdentityCache {
  readonly #entries: WeakMap<object, ConnectionIdentity>;

  /** `entries`: the map to keep them in (the process-wide cache passes a shared one). */
  constructor(entries: WeakMap<object, ConnectionIdentity> = new WeakMap()) {
    this.#entries = entries;
  }

  get(connection: object): PeerIdentity | undefined {
    return this.#entries.get(connection)?.identity;
  }

  entry(connection: object): ConnectionIdentity | undefined {
    return this.#entries.get(connection);
  }

  set(connection: object, identity: PeerIdentity, renegotiable: boolean): void {
    this.#entries.set(connection, Object.freeze({ identity, renegotiable }));
  }

  delete(connection: object): void {
    this.#entries.delete(connection);
  }
}

/**
 * The process-wide connection cache. The identity of a TLS connection does not depend on any
 * option, so every middleware instance, `getPeerIdentity` and the morgan tokens share it (also
 * across copies of the library with the same state version, lib/process-wide.ts): a connection is
 * read once per handshake, and a request on it needs nothing stored per request.
 */
export const sharedConnectionCache = new ConnectionIdentityCache(
  processWide('connectionIdentities', () => new WeakMap<object, ConnectionIdentity>()),
);
