/**
 * TLS handshake timing, handshakes in progress and the server's own certificate, for
 * `observeTlsServer()` (docs/metrics.md lists the instruments).
 *
 * - `mtls.server.tls_handshake.duration` follows .NET's `kestrel.tls_handshake.duration`
 *   semantic convention (unit `s`, `error.type` on failures, `tls.protocol.version`), in this
 *   library's namespace. It is a synchronous histogram: one record per handshake, with an
 *   attribute object kept per attribute set (a bounded number).
 * - `mtls.server.active_tls_handshakes` (Kestrel's `kestrel.active_tls_handshakes`) and
 *   `mtls.server.certificate.not_after` are observable, fed from in-process state at collection
 *   time like the counters of metrics.ts, so a provider that changes between a handshake's start
 *   and its end cannot leave the count off by one.
 *
 * One set of instruments per `MeterProvider`, shared by every recorder that reports to it.
 */
import type { Attributes, BatchObservableResult, Histogram, Meter, Observable } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_TLS_PROTOCOL_VERSION,
  ERROR_TYPE_OTHER,
  INSTRUMENTATION_SCOPE_NAME,
  METRIC_MTLS_SERVER_ACTIVE_TLS_HANDSHAKES,
  METRIC_MTLS_SERVER_CERTIFICATE_NOT_AFTER,
  METRIC_MTLS_SERVER_TLS_HANDSHAKE_DURATION,
} from './semconv.js';
import { libraryVersion, otelApi, type MeterProviderLike } from './otel-api.js';
import { boundedReason, protocolVersionOf, type MetricsOptions } from './metrics.js';

/**
 * Bucket boundaries of `mtls.server.tls_handshake.duration`, in seconds: a local handshake takes
 * about a millisecond, one across continents a few hundred, and a client that connects and sends
 * nothing holds the handshake open until the server's `handshakeTimeout` (Node's default: 120 s).
 */
export const TLS_HANDSHAKE_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

/** Most distinct attribute sets of the duration histogram; beyond, failures are recorded as `error.type=_OTHER`. */
const MAX_DURATION_ATTRIBUTE_SETS = 64;

interface HandshakeInstruments {
  readonly duration: Histogram;
  readonly recorders: Set<WeakRef<HandshakeMetrics>>;
}

const instrumentsByProvider = new WeakMap<MeterProviderLike, HandshakeInstruments>();

function instrumentsFor(provider: MeterProviderLike, recorder: HandshakeMetrics): HandshakeInstruments {
  let instruments = instrumentsByProvider.get(provider);
  if (instruments === undefined) {
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE_NAME, libraryVersion()) as Meter;
    const recorders = new Set<WeakRef<HandshakeMetrics>>();
    const duration = meter.createHistogram(METRIC_MTLS_SERVER_TLS_HANDSHAKE_DURATION, {
      unit: 's',
      description: 'Duration of TLS handshakes on the server, from the TCP connection to the end of the handshake.',
      advice: { explicitBucketBoundaries: [...TLS_HANDSHAKE_DURATION_BUCKETS] },
    });
    const active = meter.createObservableUpDownCounter(METRIC_MTLS_SERVER_ACTIVE_TLS_HANDSHAKES, {
      unit: '{handshake}',
      description: 'TLS handshakes in progress on servers seen by observeTlsServer.',
    });
    const notAfter = meter.createObservableGauge(METRIC_MTLS_SERVER_CERTIFICATE_NOT_AFTER, {
      unit: 's',
      description:
        'End of validity (Unix time) of the certificate each observed server presented on its latest successful handshake; the earliest of them.',
    });
    meter.addBatchObservableCallback((result) => observe(result, recorders, active, notAfter), [active, notAfter]);
    instruments = { duration, recorders };
    instrumentsByProvider.set(provider, instruments);
  }
  instruments.recorders.add(new WeakRef(recorder));
  return instruments;
}

function observe(
  result: BatchObservableResult,
  recorders: Set<WeakRef<HandshakeMetrics>>,
  active: Observable,
  notAfter: Observable,
): void {
  let inProgress = 0;
  let earliest: number | undefined;
  for (const ref of recorders) {
    const recorder = ref.deref();
    if (recorder === undefined) {
      recorders.delete(ref);
      continue;
    }
    inProgress += recorder.activeHandshakes;
    const served = recorder.servedNotAfterSeconds;
    if (served !== undefined && (earliest === undefined || served < earliest)) earliest = served;
  }
  result.observe(active, inProgress);
  // No handshake yet: no point, rather than a value that would read as long expired.
  if (earliest !== undefined) result.observe(notAfter, earliest);
}

/** The parts of a server-side `TLSSocket` read for the served certificate. */
interface LocalCertificateSocket {
  getX509Certificate?(): { readonly validTo: string } | undefined;
}

/** How often, at most, the served certificate is read again (it changes only with `setSecureContext()` or SNI). */
const SERVED_CERTIFICATE_READ_INTERVAL_MS = 1000;

/**
 * Records handshake durations, handshakes in progress and the served certificate of one
 * observed server. Built at factory time (no OpenTelemetry call then); the provider is looked up
 * when something is recorded.
 */
export class HandshakeMetrics {
  /** Handshakes started and not finished yet. */
  activeHandshakes = 0;
  /** End of validity (Unix seconds) of the certificate presented on the latest successful handshake. */
  servedNotAfterSeconds: number | undefined;
  readonly #fixedProvider: MeterProviderLike | undefined;
  #boundProvider: MeterProviderLike | undefined;
  #instruments: HandshakeInstruments | undefined;
  readonly #attributes = new Map<string, Attributes>();
  #lastRead = -Infinity;

  constructor(options: MetricsOptions = {}) {
    this.#fixedProvider = options.meterProvider;
  }

  #bind(): HandshakeInstruments | undefined {
    const provider = this.#fixedProvider ?? otelApi()?.metrics.getMeterProvider();
    if (provider !== this.#boundProvider) {
      this.#boundProvider = provider;
      this.#instruments = provider === undefined ? undefined : instrumentsFor(provider, this);
    }
    return this.#instruments;
  }

  /** A TCP connection arrived: its TLS handshake starts. */
  handshakeStarted(): void {
    this.activeHandshakes++;
    this.#bind();
  }

  /** A connection closed before its handshake ended with an event: no longer in progress, not timed. */
  handshakeAbandoned(): void {
    if (this.activeHandshakes > 0) this.activeHandshakes--;
  }

  /** The observer stopped watching: handshakes it saw start will not be seen ending. */
  reset(): void {
    this.activeHandshakes = 0;
  }

  /**
   * A handshake ended after `seconds`: `reason` for a failure (bounded to a code, as `error.type`),
   * `protocol` as Node reports it (`TLSv1.3`) when known.
   */
  handshakeEnded(seconds: number, reason: string | undefined, protocol: string | undefined): void {
    if (this.activeHandshakes > 0) this.activeHandshakes--;
    const instruments = this.#bind();
    if (instruments === undefined || !Number.isFinite(seconds) || seconds < 0) return;
    instruments.duration.record(seconds, this.#attributesOf(reason, protocol));
  }

  #attributesOf(reason: string | undefined, protocol: string | undefined): Attributes {
    let errorType = reason === undefined ? undefined : (boundedReason(reason) ?? ERROR_TYPE_OTHER);
    const version = protocolVersionOf(protocol);
    let key = `${errorType ?? ''}|${version ?? ''}`;
    let attributes = this.#attributes.get(key);
    if (attributes !== undefined) return attributes;
    if (this.#attributes.size >= MAX_DURATION_ATTRIBUTE_SETS && errorType !== undefined) {
      errorType = ERROR_TYPE_OTHER;
      key = `${ERROR_TYPE_OTHER}|${version ?? ''}`;
      attributes = this.#attributes.get(key);
      if (attributes !== undefined) return attributes;
    }
    attributes = Object.freeze({
      ...(errorType !== undefined ? { [ATTR_ERROR_TYPE]: errorType } : {}),
      ...(version !== undefined ? { [ATTR_TLS_PROTOCOL_VERSION]: version } : {}),
    });
    this.#attributes.set(key, attributes);
    return attributes;
  }

  /**
   * A handshake succeeded on `socket`: reads the certificate the server presented on it (the
   * local certificate, so the one actually served, also after `server.setSecureContext()` or
   * from an `SNICallback`), at most once per second.
   */
  servedOn(socket: LocalCertificateSocket, now: number = Date.now()): void {
    if (now - this.#lastRead < SERVED_CERTIFICATE_READ_INTERVAL_MS) return;
    this.#lastRead = now;
    try {
      const validTo = socket.getX509Certificate?.()?.validTo;
      const notAfter = typeof validTo === 'string' ? Date.parse(validTo) : NaN;
      if (Number.isFinite(notAfter)) this.servedNotAfterSeconds = notAfter / 1000;
    } catch {
      // No local certificate to read (a PSK-only server): nothing to report.
    }
    this.#bind();
  }
}
