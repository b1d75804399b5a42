/**
 * The record of verified client identities the process has seen, and the audit events it yields:
 * a certificate seen for the first time, and a rotation (a known subject or SPIFFE ID with a new
 * serial number). Bounded: at most `maxEntries` certificates, the least recently seen forgotten
 * first, so clients with many valid certificates cannot grow it without bound.
 */
import { isIntegerInRange, validateOptions } from '../internal/options.js';
import { logDate } from '../internal/log-date.js';
import type { PeerCertificate } from '../certificate/peer-certificate.js';
import type { IdentitySourceName, PeerIdentity } from './peer-identity.js';
import type { UnexpectedIdentityReason, ExpectedIdentitiesMode } from './expected-identities.js';

/** Default {@link IdentityRecordOptions.maxEntries}. */
export const DEFAULT_IDENTITY_RECORD_SIZE = 1000;

/** Options of {@link IdentityRecord}. */
export interface IdentityRecordOptions {
  /**
   * Most certificates kept: an integer from 1 to 100000. Past it, the certificate seen least
   * recently (by connection) is forgotten; if it comes back, it is seen for the first time again.
   * Default: `1000`.
   */
  readonly maxEntries?: number;
}

/** One certificate in a {@link IdentityRecord} snapshot. Frozen; dates are ISO 8601 UTC strings. */
export interface SeenIdentity {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly spiffeId?: string;
  /** The certificate's notAfter. */
  readonly notAfter: string;
  /** Where the identity came from (`tls` or a proxy format), when first seen. */
  readonly source: IdentitySourceName;
  /** When a request first presented it (since it entered the record). */
  readonly firstSeen: string;
  /** When a request last presented it. */
  readonly lastSeen: string;
  /** Requests that presented it (since it entered the record). */
  readonly requests: number;
}

/** What happened, in an {@link IdentityAuditEvent}. */
export type IdentityAuditEventType = 'first_seen' | 'rotation' | 'unexpected';

/** An audit event: what the `audit` option of `mtlsIdentity()` writes and passes to `onEvent`. Frozen. */
export interface IdentityAuditEvent {
  /** `first_seen`, `rotation` (a known subject or SPIFFE ID with a new serial number) or `unexpected`. */
  readonly type: IdentityAuditEventType;
  readonly time: Date;
  /** The address of the peer whose request it was (behind a proxy, the proxy's). */
  readonly remoteAddress?: string;
  readonly source: IdentitySourceName;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly spiffeId?: string;
  readonly notAfter: Date;
  /** `rotation`: what the new certificate shares with the previous one (`spiffe_id` first, else `subject`). */
  readonly rotatedBy?: 'spiffe_id' | 'subject';
  /** `rotation`: the previous certificate's serial number. */
  readonly previousSerialNumber?: string;
  /** `rotation`: the previous certificate's SHA-256 fingerprint. */
  readonly previousFingerprint256?: string;
  /** `unexpected`: the rule of `expected` it failed. */
  readonly reason?: UnexpectedIdentityReason;
  /** `unexpected`: the `expected.mode` (`enforce`: the request got 403). */
  readonly mode?: ExpectedIdentitiesMode;
}

/** The checks of {@link IdentityRecordOptions}. */
export const IDENTITY_RECORD_OPTION_CHECKS = { maxEntries: isIntegerInRange(1, 100_000) } as const;

interface Entry {
  readonly certificate: PeerCertificate;
  readonly source: IdentitySourceName;
  readonly firstSeen: number;
  lastSeen: number;
  requests: number;
}

/** What the middleware keeps per identity object: the entry to count requests on. */
export interface IdentityRecordHandle {
  /** Counts one request at `now`. */
  count(now: number): void;
}

let observe: (record: IdentityRecord, identity: PeerIdentity, now: number, remoteAddress: string | undefined) => { handle: IdentityRecordHandle; event?: IdentityAuditEvent } | undefined;

/**
 * The verified client certificates seen by the process (by the middleware instances given it),
 * bounded by `maxEntries`. Read it with {@link IdentityRecord.snapshot}, e.g. on an admin route
 * that itself requires an expected admin identity (docs/identities.md).
 *
 * ```ts
 * const identities = new IdentityRecord({ maxEntries: 1000 });
 * app.use(mtlsIdentity({ audit: { record: identities, log: process.stdout } }));
 * ```
 */
export class IdentityRecord {
  readonly maxEntries: number;
  // By fingerprint; Map order is recency (refreshed once per connection), the first key the oldest.
  readonly #entries = new Map<string, Entry>();
  // The most recent entry per subject and per SPIFFE ID: a new certificate under a known name is a rotation.
  readonly #bySubject = new Map<string, Entry>();
  readonly #bySpiffeId = new Map<string, Entry>();

  /** @throws {TypeError} for an unknown option or a `maxEntries` out of range. */
  constructor(options?: IdentityRecordOptions) {
    const o = validateOptions<IdentityRecordOptions>('new IdentityRecord()', options, IDENTITY_RECORD_OPTION_CHECKS);
    this.maxEntries = o.maxEntries ?? DEFAULT_IDENTITY_RECORD_SIZE;
  }

  /** Certificates currently kept. */
  get size(): number {
    return this.#entries.size;
  }

  /** The record now, most recently seen first: a frozen array of frozen {@link SeenIdentity} objects. */
  snapshot(): readonly SeenIdentity[] {
    const out: SeenIdentity[] = [];
    for (const entry of this.#entries.values()) {
      const c = entry.certificate;
      out.push(
        Object.freeze({
          subject: c.subject,
          issuer: c.issuer,
          serialNumber: c.serialNumber,
          fingerprint256: c.fingerprint256,
          ...(c.spiffeId === undefined ? {} : { spiffeId: c.spiffeId }),
          notAfter: logDate(c.notAfter) ?? '',
          source: entry.source,
          firstSeen: new Date(entry.firstSeen).toISOString(),
          lastSeen: new Date(entry.lastSeen).toISOString(),
          requests: entry.requests,
        }),
      );
    }
    return Object.freeze(out.reverse());
  }

  static {
    observe = (record, identity, now, remoteAddress) => record.#observe(identity, now, remoteAddress);
  }

  #observe(identity: PeerIdentity, now: number, remoteAddress: string | undefined): { handle: IdentityRecordHandle; event?: IdentityAuditEvent } | undefined {
    const certificate = identity.certificate;
    if (!identity.verified || certificate === undefined) return undefined;
    const known = this.#entries.get(certificate.fingerprint256);
    if (known !== undefined) {
      this.#entries.delete(certificate.fingerprint256);
      this.#entries.set(certificate.fingerprint256, known);
      return { handle: handleOf(known) };
    }
    const previous =
      (certificate.spiffeId === undefined ? undefined : this.#bySpiffeId.get(certificate.spiffeId)) ?? this.#bySubject.get(certificate.subject);
    const entry: Entry = { certificate, source: identity.source, firstSeen: now, lastSeen: now, requests: 0 };
    this.#entries.set(certificate.fingerprint256, entry);
    this.#bySubject.set(certificate.subject, entry);
    if (certificate.spiffeId !== undefined) this.#bySpiffeId.set(certificate.spiffeId, entry);
    if (this.#entries.size > this.maxEntries) this.#evictOldest();
    const rotation = previous !== undefined && previous.certificate.serialNumber !== certificate.serialNumber;
    const event = auditEvent(rotation ? 'rotation' : 'first_seen', identity.source, certificate, new Date(now), { remoteAddress });
    if (!rotation) return { handle: handleOf(entry), event };
    const p = previous.certificate;
    const rotatedBy = certificate.spiffeId !== undefined && p.spiffeId === certificate.spiffeId ? 'spiffe_id' : 'subject';
    return {
      handle: handleOf(entry),
      event: Object.freeze({ ...event, rotatedBy, previousSerialNumber: p.serialNumber, previousFingerprint256: p.fingerprint256 }),
    };
  }

  #evictOldest(): void {
    const [fingerprint, oldest] = this.#entries.entries().next().value!;
    this.#entries.delete(fingerprint);
    const c = oldest.certificate;
    if (this.#bySubject.get(c.subject) === oldest) this.#bySubject.delete(c.subject);
    if (c.spiffeId !== undefined && this.#bySpiffeId.get(c.spiffeId) === oldest) this.#bySpiffeId.delete(c.spiffeId);
  }
}

function handleOf(entry: Entry): IdentityRecordHandle {
  return {
    count(now) {
      entry.requests++;
      entry.lastSeen = now;
    },
  };
}

/** An audit event about `certificate` (frozen). */
export function auditEvent(
  type: IdentityAuditEventType,
  source: IdentitySourceName,
  certificate: PeerCertificate,
  time: Date,
  extra?: Pick<IdentityAuditEvent, 'reason' | 'mode' | 'remoteAddress'>,
): IdentityAuditEvent {
  return Object.freeze({
    type,
    time,
    ...(extra?.remoteAddress === undefined ? {} : { remoteAddress: extra.remoteAddress }),
    source,
    subject: certificate.subject,
    issuer: certificate.issuer,
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    ...(certificate.spiffeId === undefined ? {} : { spiffeId: certificate.spiffeId }),
    notAfter: certificate.notAfter,
    ...(extra?.reason === undefined ? {} : { reason: extra.reason }),
    ...(extra?.mode === undefined ? {} : { mode: extra.mode }),
  });
}

/**
 * Records that a request presented `identity` (called once per identity object, i.e. per
 * connection): the handle to count its requests on, and the audit event when it is new or a
 * rotation. `undefined` for an unverified identity or one without a certificate, which are
 * never recorded.
 */
export function observeIdentity(
  record: IdentityRecord,
  identity: PeerIdentity,
  now: number,
  remoteAddress?: string,
): { handle: IdentityRecordHandle; event?: IdentityAuditEvent } | undefined {
  return observe(record, identity, now, remoteAddress);
}
