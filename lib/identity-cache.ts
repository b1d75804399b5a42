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

type Entry = { readonly certificate: PeerCertificate } | { readonly error: unknown };

/**
 * A bounded LRU of parsed certificates keyed by the DER itself, as a Latin-1 string (one byte, one
 * character, so equal keys mean equal bytes): exact, and ~6k instructions per lookup against ~16k
 * for a SHA-256 of the DER, for the size of the DER again per entry. Failures are cached too, so a
 * client that keeps presenting a malformed certificate is parsed once, not per connection.
 * Returned certificates are frozen (they are shared by every connection that presents them).
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
   * The parsed certificate for `der`, from the cache when this DER was seen before.
   * @throws whatever the parser throws (`CertificateParseError` for the default parser); a
   *   cached failure is thrown again without re-parsing.
   */
  get(der: Uint8Array): PeerCertificate {
    if (this.#maxEntries === 0) return this.#parseFrozen(der);
    const key = latin1(der);
    let entry = this.#entries.get(key);
    if (entry !== undefined) {
      // Map iteration order is insertion order: re-inserting marks the entry most recently used.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    } else {
      try {
        entry = { certificate: this.#parseFrozen(der) };
      } catch (error) {
        entry = { error };
      }
      if (this.#entries.size >= this.#maxEntries) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      this.#entries.set(key, entry);
    }
    if ('error' in entry) throw entry.error;
    return entry.certificate;
  }

  /** Drops every entry. */
  clear(): void {
    this.#entries.clear();
  }

  #parseFrozen(der: Uint8Array): PeerCertificate {
    this.#parses++;
    return freezeCertificate(this.#parse(der));
  }
}

function latin1(der: Uint8Array): string {
  return (Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength)).toString('latin1');
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

/**
 * Identities per TLS connection. Keyed by the socket object (for HTTP/2 the session's socket), so
 * an entry lives exactly as long as the connection is reachable.
 */
export class ConnectionIdentityCache {
  readonly #identities: WeakMap<object, PeerIdentity>;

  /** `identities`: the map to keep them in (the process-wide cache passes a shared one). */
  constructor(identities: WeakMap<object, PeerIdentity> = new WeakMap()) {
    this.#identities = identities;
  }

  get(connection: object): PeerIdentity | undefined {
    return this.#identities.get(connection);
  }

  set(connection: object, identity: PeerIdentity): void {
    this.#identities.set(connection, identity);
  }
}

/**
 * The process-wide connection cache. The identity of a TLS connection does not depend on any
 * option, so every middleware instance, `getPeerIdentity` and the morgan tokens share it (also
 * across copies of the library): a connection is read once, and a request on it needs nothing
 * stored per request.
 */
export const sharedConnectionCache = new ConnectionIdentityCache(
  processWide('connectionIdentities', () => new WeakMap<object, PeerIdentity>()),
);
