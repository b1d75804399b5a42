/**
 * The certificate-expiry record behind the `mtls.server.client_certificate.*` instruments: which
 * verified client certificates were seen recently and when they expire, bounded in count
 * ({@link MAX_RECENT_CERTIFICATES}) and in time (`recentCertificateSeconds`). It is the only
 * per-certificate state the metrics keep, so its options, defaults and bounds live here, apart
 * from the instruments and counters in metrics.ts.
 */
import type { PeerCertificate } from '../certificate/peer-certificate.js';
import { isIntegerInRange, type OptionCheck } from '../internal/options.js';

/** Options of the certificate-expiry instruments (`mtlsIdentity()` only: it sees the certificates). */
export interface CertificateExpiryMetricsOptions {
  /**
   * `mtls.server.client_certificate.expiring` counts the certificates seen recently that expire
   * within this many seconds (expired ones included). An integer from 1 to 316224000 (10 years).
   * Default: `604800` (7 days).
   */
  readonly expiryWarningSeconds?: number;
  /**
   * How long a certificate counts as "seen recently" for the two certificate gauges after its last
   * connection, in seconds. An integer from 1 to 31622400 (366 days). Default: `86400` (24 hours).
   */
  readonly recentCertificateSeconds?: number;
}

/** Default of {@link CertificateExpiryMetricsOptions.expiryWarningSeconds}: 7 days. */
export const DEFAULT_EXPIRY_WARNING_SECONDS = 7 * 24 * 3600;
/** Default of {@link CertificateExpiryMetricsOptions.recentCertificateSeconds}: 24 hours. */
export const DEFAULT_RECENT_CERTIFICATE_SECONDS = 24 * 3600;
/** Most distinct (verified) certificates remembered for the gauges; the least recently seen go first. */
export const MAX_RECENT_CERTIFICATES = 10_000;

/**
 * Bucket boundaries (seconds) of the `mtls.server.client_certificate.time_left` histogram:
 * 0 (expired), 1 h, 1 d, 7 d, 14 d, 30 d, 90 d, 180 d, 1 y, 2 y.
 */
export const TIME_LEFT_BUCKETS: readonly number[] = [
  0, 3600, 86_400, 604_800, 1_209_600, 2_592_000, 7_776_000, 15_552_000, 31_536_000, 63_072_000,
];

/** Checks of {@link CertificateExpiryMetricsOptions}. */
export const CERTIFICATE_EXPIRY_OPTION_CHECKS: {
  readonly [K in keyof CertificateExpiryMetricsOptions]-?: OptionCheck;
} = {
  expiryWarningSeconds: isIntegerInRange(1, 10 * 366 * 86_400),
  recentCertificateSeconds: isIntegerInRange(1, 366 * 86_400),
};

/** One certificate of the record: its fingerprint, `notAfter` (ms since the epoch) and client label. */
export type RecentCertificate = readonly [fingerprint: string, notAfter: number, client: string | undefined];

/** Certificates seen recently: fingerprint → expiry, in least-recently-seen-first order. */
export class RecentCertificates {
  readonly #seen = new Map<string, { readonly notAfter: number; readonly seenAt: number; readonly client: string | undefined }>();
  readonly #windowMs: number;
  readonly #expiringMs: number;

  /** Takes already validated options ({@link CERTIFICATE_EXPIRY_OPTION_CHECKS}). */
  constructor(options: CertificateExpiryMetricsOptions = {}) {
    this.#windowMs = (options.recentCertificateSeconds ?? DEFAULT_RECENT_CERTIFICATE_SECONDS) * 1000;
    this.#expiringMs = (options.expiryWarningSeconds ?? DEFAULT_EXPIRY_WARNING_SECONDS) * 1000;
  }

  /**
   * Marks `certificate` seen at `now` (milliseconds since the epoch), presented by the client
   * labelled `client` (`metrics.clients`; `undefined` for none).
   */
  add(certificate: PeerCertificate, now: number, client?: string): void {
    const key = certificate.fingerprint256;
    this.#seen.delete(key);
    this.#seen.set(key, { notAfter: certificate.notAfter.getTime(), seenAt: now, client });
    if (this.#seen.size > MAX_RECENT_CERTIFICATES) {
      const oldest = this.#seen.keys().next();
      if (oldest.done !== true) this.#seen.delete(oldest.value);
    }
  }

  /** Drops what was last seen before the window, then visits the rest. */
  *current(now: number): IterableIterator<RecentCertificate> {
    const cutoff = now - this.#windowMs;
    for (const [key, value] of this.#seen) {
      if (value.seenAt < cutoff) this.#seen.delete(key);
      else yield [key, value.notAfter, value.client];
    }
  }

  /** Whether a certificate expiring at `notAfter` is within this record's warning window at `now`. */
  isExpiring(notAfter: number, now: number): boolean {
    return notAfter - now <= this.#expiringMs;
  }
}

/** What the two certificate gauges report at one collection. */
export interface ExpirySummary {
  /** Seconds left on the soonest-expiring certificate (negative once expired); `undefined` for none. */
  readonly minTimeLeftSeconds: number | undefined;
  /** Distinct certificates (by fingerprint) within their record's warning window. */
  readonly expiring: number;
  /** Per client label, the soonest `notAfter` (ms since the epoch) of its certificates seen recently. */
  readonly clientNotAfter: ReadonlyMap<string, number>;
}

/**
 * Sums several records (one per middleware sharing a `MeterProvider`) into the gauges' values: a
 * certificate seen by two middlewares counts once.
 */
export function summarizeExpiry(records: Iterable<RecentCertificates>, now: number): ExpirySummary {
  let soonest = Number.POSITIVE_INFINITY;
  const expiring = new Set<string>();
  const clientNotAfter = new Map<string, number>();
  for (const record of records) {
    for (const [fingerprint, notAfter, client] of record.current(now)) {
      if (notAfter < soonest) soonest = notAfter;
      if (record.isExpiring(notAfter, now)) expiring.add(fingerprint);
      if (client === undefined) continue;
      const known = clientNotAfter.get(client);
      if (known === undefined || notAfter < known) clientNotAfter.set(client, notAfter);
    }
  }
  return {
    minTimeLeftSeconds: soonest === Number.POSITIVE_INFINITY ? undefined : Math.floor((soonest - now) / 1000),
    expiring: expiring.size,
    clientNotAfter,
  };
}
