/**
 * Metrics through the OpenTelemetry metrics API (docs/metrics.md lists every instrument).
 *
 * Two facts shape this module:
 * - The metrics API has no proxy provider: a meter obtained before the SDK registers stays a no-op
 *   forever. So nothing is created at import or factory time; the provider is looked up when
 *   something is recorded, and instruments are (re)created whenever it changed.
 * - The per-request path must stay cheap. Request and handshake counts are therefore kept in
 *   plain in-process counters, one per attribute set, and reported by asynchronous (observable)
 *   counters at collection time: a request costs a `WeakMap` lookup and an increment, never an
 *   SDK call with attribute hashing. The attribute set of each connection's
 *   identity is resolved once and reused.
 *
 * Cardinality is bounded: attributes are the verification result, a reason from a fixed vocabulary
 * (anything else becomes `_OTHER`) and the identity source. Serial and fingerprint never become
 * attributes; a client label (`mtls.client.id`) only with `metrics.clients`, for verified
 * identities, from the bounded table in client-labels.ts. The per-certificate state behind the
 * certificate gauges is the record in certificate-expiry.ts.
 */
import type { Attributes, BatchObservableResult, Histogram, Meter, Observable } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_MTLS_CLIENT_ID,
  ATTR_MTLS_CLIENT_SOURCE,
  ATTR_MTLS_HANDSHAKE_OUTCOME,
  ATTR_MTLS_RENEGOTIATION_OUTCOME,
  ATTR_MTLS_VERIFY_REQUIRED,
  ATTR_MTLS_VERIFY_RESULT,
  ATTR_TLS_PROTOCOL_VERSION,
  ATTR_TLS_RESUMED,
  CLIENT_ID_OTHER,
  ERROR_TYPE_OTHER,
  INSTRUMENTATION_SCOPE_NAME,
  METRIC_MTLS_CLIENT_CERTIFICATE_EXPIRING,
  METRIC_MTLS_CLIENT_CERTIFICATE_MIN_TIME_LEFT,
  METRIC_MTLS_CLIENT_CERTIFICATE_NOT_AFTER,
  METRIC_MTLS_CLIENT_CERTIFICATE_TIME_LEFT,
  METRIC_MTLS_SERVER_CLIENT_ID_FOLDED_REQUESTS,
  METRIC_MTLS_SERVER_HANDSHAKES,
  METRIC_MTLS_SERVER_RENEGOTIATIONS,
  METRIC_MTLS_SERVER_REQUESTS,
  METRIC_MTLS_SERVER_UNTRUSTED_PROXY_HEADERS,
  ATTR_MTLS_AUDIT_EVENT,
  ATTR_MTLS_EXPECTED_MODE,
  ATTR_MTLS_UNEXPECTED_REASON,
  METRIC_MTLS_SERVER_AUDIT_EVENTS,
  METRIC_MTLS_SERVER_UNEXPECTED_IDENTITIES,
} from './semconv.js';
import { optionGroup, type OptionCheck, type OptionGroup } from '../internal/options.js';
import { libraryVersion, otelApi, type AttributesLike, type MeterProviderLike } from './otel-api.js';
import {
  CERTIFICATE_EXPIRY_OPTION_CHECKS,
  RecentCertificates,
  summarizeExpiry,
  TIME_LEFT_BUCKETS,
  type CertificateExpiryMetricsOptions,
} from './certificate-expiry.js';
import { reasonCodeOr, verifyOutcomeOf, type PeerIdentity } from '../identity/peer-identity.js';
import { CLIENT_METRICS_OPTIONS, ClientLabels, type ClientMetricsOptions } from './client-labels.js';

/**
 * The `metrics` option of `observeTlsServer()` (and the base of `mtlsIdentity()`'s). `false`
 * turns metrics off; `{}` records with the defaults.
 */
export interface MetricsOptions {
  /**
   * The `MeterProvider` to record to. Default: the global one (`metrics.getMeterProvider()`),
   * looked up when something is recorded, so an SDK started after this factory ran is still used.
   */
  readonly meterProvider?: MeterProviderLike;
}

/** The `metrics` option of `mtlsIdentity()`: it also sees certificates, so it has the expiry instruments. */
export interface RequestMetricsOptions extends MetricsOptions, CertificateExpiryMetricsOptions {
  /**
   * Per-client metrics: `mtls.server.requests` of verified clients carries `mtls.client.id`, and
   * `mtls.server.client_certificate.not_after` gives each labelled client's certificate expiry
   * (see {@link ClientMetricsOptions}; at most `maxClients` values, the rest `_OTHER`). `false` or
   * absent: off. Default: off.
   */
  readonly clients?: false | ClientMetricsOptions;
}

/** Most distinct attribute sets per counter; beyond, new sets are counted under `error.type=_OTHER`. */
const MAX_ATTRIBUTE_SETS = 256;

const isMeterProvider: OptionCheck = (v) =>
  typeof v === 'object' && v !== null && typeof (v as { getMeter?: unknown }).getMeter === 'function'
    ? undefined
    : 'a MeterProvider (an object with getMeter(), e.g. from @opentelemetry/sdk-metrics)';

const METRICS_EXPECTED = 'false (off) or an object of metrics options ({} for the defaults)';

/** The checks of `observeTlsServer()`'s `metrics` option. */
export const METRICS_OPTIONS: OptionGroup = optionGroup<MetricsOptions>({
  expected: METRICS_EXPECTED,
  allowFalse: true,
  checks: { meterProvider: isMeterProvider },
});

/** The checks of `mtlsIdentity()`'s `metrics` option. */
export const REQUEST_METRICS_OPTIONS: OptionGroup = optionGroup<RequestMetricsOptions>({
  expected: METRICS_EXPECTED,
  allowFalse: true,
  checks: { meterProvider: isMeterProvider, ...CERTIFICATE_EXPIRY_OPTION_CHECKS, clients: CLIENT_METRICS_OPTIONS },
});

/** Values of `mtls.verify.result`. */
export type VerifyResult = 'success' | 'failed' | 'none';
/** Values of `mtls.handshake.outcome`. */
export type HandshakeOutcome = 'success' | 'rejected' | 'failed';
/** Values of `mtls.renegotiation.outcome`. */
export type RenegotiationOutcome = 'refused' | 'completed';

interface CountEntry {
  readonly attributes: AttributesLike;
  count: number;
}

/** Cumulative counts, one entry per attribute set, at most `maxSets` of them. */
class CountTable {
  readonly entries = new Map<string, CountEntry>();

  constructor(readonly maxSets: number = MAX_ATTRIBUTE_SETS) {}

  entry(key: string, attributes: () => AttributesLike, overflow: () => [string, AttributesLike]): CountEntry {
    let entry = this.entries.get(key);
    if (entry !== undefined) return entry;
    if (this.entries.size >= this.maxSets) {
      const [overflowKey, overflowAttributes] = overflow();
      entry = this.entries.get(overflowKey);
      if (entry !== undefined) return entry;
      entry = { attributes: Object.freeze(overflowAttributes), count: 0 };
      this.entries.set(overflowKey, entry);
      return entry;
    }
    entry = { attributes: Object.freeze(attributes()), count: 0 };
    this.entries.set(key, entry);
    return entry;
  }
}

interface ProviderInstruments {
  readonly timeLeft: Histogram;
  readonly recorders: Set<WeakRef<MtlsMetrics>>;
}

const instrumentsByProvider = new WeakMap<MeterProviderLike, ProviderInstruments>();

/**
 * One set of instruments per `MeterProvider`, shared by every recorder that reports to it: the
 * same instrument registered twice would have two callbacks observe the same attribute set, and
 * for asynchronous instruments the last observation wins instead of the sum.
 */
function instrumentsFor(provider: MeterProviderLike, recorder: MtlsMetrics): ProviderInstruments {
  let instruments = instrumentsByProvider.get(provider);
  if (instruments === undefined) {
    // The public option is structural (no API types in the declarations); a provider's meter is the API's.
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE_NAME, libraryVersion()) as Meter;
    const recorders = new Set<WeakRef<MtlsMetrics>>();
    const requests = meter.createObservableCounter(METRIC_MTLS_SERVER_REQUESTS, {
      unit: '{request}',
      description: 'Requests seen by the mtlsIdentity middleware, by client-certificate verification result.',
    });
    const handshakes = meter.createObservableCounter(METRIC_MTLS_SERVER_HANDSHAKES, {
      unit: '{handshake}',
      description: 'TLS handshakes seen by observeTlsServer, by outcome and failure reason.',
    });
    const minTimeLeft = meter.createObservableGauge(METRIC_MTLS_CLIENT_CERTIFICATE_MIN_TIME_LEFT, {
      unit: 's',
      description:
        'Smallest remaining validity among verified client certificates seen recently; negative once expired; NaN once none was seen recently.',
    });
    const expiring = meter.createObservableGauge(METRIC_MTLS_CLIENT_CERTIFICATE_EXPIRING, {
      unit: '{certificate}',
      description: 'Distinct verified client certificates seen recently that expire within the warning window.',
    });
    const timeLeft = meter.createHistogram(METRIC_MTLS_CLIENT_CERTIFICATE_TIME_LEFT, {
      unit: 's',
      description: 'Remaining validity of the verified client certificate presented on each new connection (0 when expired).',
      advice: { explicitBucketBoundaries: [...TIME_LEFT_BUCKETS] },
    });
    const untrustedProxyHeaders = meter.createObservableCounter(METRIC_MTLS_SERVER_UNTRUSTED_PROXY_HEADERS, {
      unit: '{request}',
      description:
        'Requests from peers outside proxy.trustedProxies that carried forwarded client-certificate headers (ignored and removed).',
    });
    const renegotiations = meter.createObservableCounter(METRIC_MTLS_SERVER_RENEGOTIATIONS, {
      unit: '{renegotiation}',
      description: 'TLS renegotiations seen by observeTlsServer: refused (connection closed) or completed.',
    });
    const foldedRequests = meter.createObservableCounter(METRIC_MTLS_SERVER_CLIENT_ID_FOLDED_REQUESTS, {
      unit: '{request}',
      description: 'Requests of verified clients counted under mtls.client.id="_OTHER" because metrics.clients.maxClients was reached.',
    });
    const notAfter = meter.createObservableGauge(METRIC_MTLS_CLIENT_CERTIFICATE_NOT_AFTER, {
      unit: 's',
      description:
        'Per labelled client, the soonest expiry (Unix time) of its verified certificates seen recently; NaN once none was seen recently.',
    });
    const unexpectedIdentities = meter.createObservableCounter(METRIC_MTLS_SERVER_UNEXPECTED_IDENTITIES, {
      unit: '{request}',
      description: 'Requests with a verified client identity that the expected option does not list, by failed rule and mode.',
    });
    const auditEvents = meter.createObservableCounter(METRIC_MTLS_SERVER_AUDIT_EVENTS, {
      unit: '{event}',
      description: 'Identity audit events: a client certificate seen for the first time, a rotation, an unexpected identity reported.',
    });
    const counters: CounterInstruments = {
      requests,
      handshakes,
      untrustedProxyHeaders,
      renegotiations,
      foldedRequests,
      unexpectedIdentities,
      auditEvents,
    };
    const gauges: GaugeInstruments = {
      minTimeLeft,
      expiring,
      notAfter,
      minTimeLeftReported: false,
      expiringReported: false,
      reportedClients: new Set(),
    };
    const observables: Observable[] = [
      requests,
      handshakes,
      untrustedProxyHeaders,
      renegotiations,
      foldedRequests,
      unexpectedIdentities,
      auditEvents,
      minTimeLeft,
      expiring,
      notAfter,
    ];
    meter.addBatchObservableCallback((result) => observe(result, recorders, counters, gauges), observables);
    instruments = { timeLeft, recorders };
    instrumentsByProvider.set(provider, instruments);
  }
  instruments.recorders.add(new WeakRef(recorder));
  return instruments;
}

/** The observable counters fed from each recorder's in-process count tables. */
interface CounterInstruments {
  readonly requests: Observable;
  readonly handshakes: Observable;
  readonly untrustedProxyHeaders: Observable;
  readonly renegotiations: Observable;
  readonly foldedRequests: Observable;
  readonly unexpectedIdentities: Observable;
  readonly auditEvents: Observable;
}

/** The observable gauges fed from the recorders' certificate-expiry records. */
interface GaugeInstruments {
  readonly minTimeLeft: Observable;
  readonly expiring: Observable;
  readonly notAfter: Observable;
  /** Whether `min_time_left` has had a point (see {@link observeExpiry}). */
  minTimeLeftReported: boolean;
  /** Whether `expiring` has had a point. */
  expiringReported: boolean;
  /** Client labels the `not_after` gauge has reported. */
  readonly reportedClients: Set<string>;
}

function observe(
  result: BatchObservableResult,
  recorders: Set<WeakRef<MtlsMetrics>>,
  counters: CounterInstruments,
  gauges: GaugeInstruments,
): void {
  const requestSums = new Map<string, CountEntry>();
  const handshakeSums = new Map<string, CountEntry>();
  const untrustedSums = new Map<string, CountEntry>();
  const renegotiationSums = new Map<string, CountEntry>();
  const unexpectedSums = new Map<string, CountEntry>();
  const auditSums = new Map<string, CountEntry>();
  const records: RecentCertificates[] = [];
  let folded: number | undefined;
  for (const ref of recorders) {
    const recorder = ref.deref();
    if (recorder === undefined) {
      recorders.delete(ref);
      continue;
    }
    addInto(requestSums, recorder.requests);
    addInto(handshakeSums, recorder.handshakes);
    addInto(untrustedSums, recorder.untrustedProxyHeaders);
    addInto(renegotiationSums, recorder.renegotiations);
    addInto(unexpectedSums, recorder.unexpectedIdentities);
    addInto(auditSums, recorder.auditEvents);
    if (recorder.recentCertificates !== undefined) records.push(recorder.recentCertificates);
    if (recorder.clientLabels !== undefined) folded = (folded ?? 0) + recorder.foldedRequests;
  }
  for (const entry of requestSums.values()) result.observe(counters.requests, entry.count, entry.attributes);
  for (const entry of handshakeSums.values()) result.observe(counters.handshakes, entry.count, entry.attributes);
  for (const entry of untrustedSums.values()) {
    result.observe(counters.untrustedProxyHeaders, entry.count, entry.attributes);
  }
  for (const entry of renegotiationSums.values()) result.observe(counters.renegotiations, entry.count, entry.attributes);
  for (const entry of unexpectedSums.values()) result.observe(counters.unexpectedIdentities, entry.count, entry.attributes);
  for (const entry of auditSums.values()) result.observe(counters.auditEvents, entry.count, entry.attributes);
  if (folded !== undefined) result.observe(counters.foldedRequests, folded);
  observeExpiry(result, gauges, records);
}

/**
 * The certificate gauges. The SDK goes on exporting the last observed value of a point its
 * callback no longer observes (cumulative temporality keeps every reported attribute set), so a
 * gauge point, once reported, is observed at every collection: its value, or NaN when there is
 * none (no certificate seen recently; no record left, every recorder having been collected). NaN
 * fails every comparison, so an alert on a gauge clears instead of holding a value that no longer
 * counts down. Before its first value a gauge has no point at all.
 */
function observeExpiry(result: BatchObservableResult, gauges: GaugeInstruments, records: readonly RecentCertificates[]): void {
  const expiry = records.length === 0 ? undefined : summarizeExpiry(records, Date.now());
  const minTimeLeft = expiry?.minTimeLeftSeconds;
  if (minTimeLeft !== undefined) gauges.minTimeLeftReported = true;
  if (gauges.minTimeLeftReported) result.observe(gauges.minTimeLeft, minTimeLeft ?? Number.NaN);
  if (expiry !== undefined) gauges.expiringReported = true;
  if (gauges.expiringReported) result.observe(gauges.expiring, expiry?.expiring ?? Number.NaN);
  const clientNotAfter = expiry?.clientNotAfter;
  for (const [client, notAfter] of clientNotAfter ?? []) {
    gauges.reportedClients.add(client);
    result.observe(gauges.notAfter, notAfter / 1000, { [ATTR_MTLS_CLIENT_ID]: client });
  }
  for (const client of gauges.reportedClients) {
    if (clientNotAfter?.has(client) !== true) result.observe(gauges.notAfter, Number.NaN, { [ATTR_MTLS_CLIENT_ID]: client });
  }
}

function addInto(sums: Map<string, CountEntry>, table: CountTable): void {
  for (const [key, entry] of table.entries) {
    const sum = sums.get(key);
    if (sum === undefined) sums.set(key, { attributes: entry.attributes, count: entry.count });
    else sum.count += entry.count;
  }
}

/** A reason safe as a metric attribute value: an OpenSSL/Node/library code, else `_OTHER`. */
export function boundedReason(reason: string | undefined): string | undefined {
  return reason === undefined ? undefined : reasonCodeOr(reason, ERROR_TYPE_OTHER);
}

const SOURCE_PATTERN = /^[a-z0-9_-]{1,32}$/;


/** `TLSv1.3` → `1.3` (semconv `tls.protocol.version` is the numeric part). */
export function protocolVersionOf(protocol: string | null | undefined): string | undefined {
  if (typeof protocol !== 'string') return undefined;
  const match = /^TLSv(\d(?:\.\d)?)$/.exec(protocol);
  return match?.[1];
}

interface IdentityEntry {
  readonly counts: CountEntry;
  readonly histogramAttributes: Attributes;
  /** `mtls.client.id` (verified identities with `metrics.clients` only). */
  readonly client: string | undefined;
  /** Counted under {@link CLIENT_ID_OTHER}. */
  readonly folded: boolean;
}

/**
 * Records the library's metrics. Built at factory time (no OpenTelemetry call then); each record
 * call looks up the provider and binds instruments lazily.
 */
export class MtlsMetrics {
  readonly requests: CountTable;
  readonly handshakes = new CountTable();
  readonly untrustedProxyHeaders = new CountTable();
  readonly renegotiations = new CountTable();
  readonly unexpectedIdentities = new CountTable();
  readonly auditEvents = new CountTable();
  /** Present when this recorder tracks certificate expiry (the middleware's recorder). */
  readonly recentCertificates: RecentCertificates | undefined;
  /** Present with `metrics.clients`: the `mtls.client.id` table. */
  readonly clientLabels: ClientLabels | undefined;
  /** Requests counted under `mtls.client.id="_OTHER"`. */
  foldedRequests = 0;
  readonly #fixedProvider: MeterProviderLike | undefined;
  readonly #required: boolean | undefined;
  #boundProvider: MeterProviderLike | undefined;
  #instruments: ProviderInstruments | undefined;
  readonly #identities = new WeakMap<PeerIdentity, IdentityEntry>();

  /**
   * `trackCertificates`: feed the certificate gauges (the middleware's recorder). `required`: the
   * middleware's `require` option, recorded as `mtls.verify.required` on requests.
   */
  constructor(
    options: RequestMetricsOptions & { trackCertificates?: boolean; required?: boolean } = {},
  ) {
    this.#fixedProvider = options.meterProvider;
    this.#required = options.required;
    this.recentCertificates = options.trackCertificates ? new RecentCertificates(options) : undefined;
    this.clientLabels = options.clients ? new ClientLabels(options.clients) : undefined;
    // Room for every client label on each of the two sources a middleware reads (its connection
    // and, behind a proxy, the proxy's format), so the labels never fold into error.type=_OTHER.
    this.requests = new CountTable(
      this.clientLabels === undefined ? MAX_ATTRIBUTE_SETS : MAX_ATTRIBUTE_SETS + 2 * (this.clientLabels.maxClients + 1),
    );
  }

  #bind(): ProviderInstruments | undefined {
    const provider = this.#fixedProvider ?? otelApi()?.metrics.getMeterProvider();
    if (provider !== this.#boundProvider) {
      this.#boundProvider = provider;
      this.#instruments = provider === undefined ? undefined : instrumentsFor(provider, this);
    }
    return this.#instruments;
  }

  /**
   * Counts one request. The identity's attribute set (and, for a verified certificate, expiry
   * data) is resolved once per identity object, i.e. per connection.
   */
  recordRequest(identity: PeerIdentity): void {
    let entry = this.#identities.get(identity);
    if (entry !== undefined) {
      entry.counts.count++;
      if (entry.folded) this.foldedRequests++;
      this.#bind();
      return;
    }
    entry = this.#identityEntry(identity);
    this.#identities.set(identity, entry);
    entry.counts.count++;
    if (entry.folded) this.foldedRequests++;
    const instruments = this.#bind();
    const certificate = identity.certificate;
    // Only verified certificates feed the expiry instruments: anyone can present a self-signed,
    // expired one, which would fire expiry alerts and push real clients out of the recent set.
    // Unverified ones keep no per-certificate state; they are counted in the requests counter.
    if (certificate === undefined || !identity.verified) return;
    const now = Date.now();
    this.recentCertificates?.add(certificate, now, entry.client);
    // Histograms take non-negative values; an expired certificate lands in the first bucket (le=0).
    const seconds = Math.max(0, (certificate.notAfter.getTime() - now) / 1000);
    instruments?.timeLeft.record(seconds, entry.histogramAttributes);
  }

  #identityEntry(identity: PeerIdentity): IdentityEntry {
    const result: VerifyResult = verifyOutcomeOf(identity);
    const reason = boundedReason(identity.reason);
    const source = SOURCE_PATTERN.test(identity.source) ? identity.source : ERROR_TYPE_OTHER;
    const required = this.#required === undefined ? {} : { [ATTR_MTLS_VERIFY_REQUIRED]: this.#required };
    const client = this.clientLabels?.labelOf(identity);
    const counts = this.requests.entry(
      `${result}|${reason ?? ''}|${source}|${client ?? ''}`,
      () => ({
        [ATTR_MTLS_VERIFY_RESULT]: result,
        ...(reason !== undefined ? { [ATTR_ERROR_TYPE]: reason } : {}),
        [ATTR_MTLS_CLIENT_SOURCE]: source,
        ...required,
        ...(client !== undefined ? { [ATTR_MTLS_CLIENT_ID]: client } : {}),
      }),
      () => [
        `${result}|${ERROR_TYPE_OTHER}|${source}|`,
        { [ATTR_MTLS_VERIFY_RESULT]: result, [ATTR_ERROR_TYPE]: ERROR_TYPE_OTHER, [ATTR_MTLS_CLIENT_SOURCE]: source, ...required },
      ],
    );
    return {
      counts,
      histogramAttributes: Object.freeze({ [ATTR_MTLS_VERIFY_RESULT]: result, [ATTR_MTLS_CLIENT_SOURCE]: source }),
      client,
      folded: client === CLIENT_ID_OTHER,
    };
  }

  /**
   * Counts one TLS handshake. `reason` for failures (bounded to a code), `protocol` as Node reports
   * it (`TLSv1.3`), `resumed` for successful ones.
   */
  recordHandshake(outcome: HandshakeOutcome, reason?: string, protocol?: string | null, resumed?: boolean): void {
    const errorType = outcome === 'success' ? undefined : (boundedReason(reason) ?? ERROR_TYPE_OTHER);
    const version = protocolVersionOf(protocol);
    const entry = this.handshakes.entry(
      `${outcome}|${errorType ?? ''}|${version ?? ''}|${resumed === undefined ? '' : String(resumed)}`,
      () => ({
        [ATTR_MTLS_HANDSHAKE_OUTCOME]: outcome,
        ...(errorType !== undefined ? { [ATTR_ERROR_TYPE]: errorType } : {}),
        ...(version !== undefined ? { [ATTR_TLS_PROTOCOL_VERSION]: version } : {}),
        ...(resumed !== undefined ? { [ATTR_TLS_RESUMED]: resumed } : {}),
      }),
      () => [`${outcome}|${ERROR_TYPE_OTHER}`, { [ATTR_MTLS_HANDSHAKE_OUTCOME]: outcome, [ATTR_ERROR_TYPE]: ERROR_TYPE_OTHER }],
    );
    entry.count++;
    this.#bind();
  }

  /**
   * Counts one TLS renegotiation: `refused` with the Node error code that refused it, or `completed`.
   */
  recordRenegotiation(outcome: RenegotiationOutcome, reason?: string): void {
    const errorType = outcome === 'refused' ? (boundedReason(reason) ?? ERROR_TYPE_OTHER) : undefined;
    const entry = this.renegotiations.entry(
      `${outcome}|${errorType ?? ''}`,
      () => ({ [ATTR_MTLS_RENEGOTIATION_OUTCOME]: outcome, ...(errorType !== undefined ? { [ATTR_ERROR_TYPE]: errorType } : {}) }),
      () => [`${outcome}|${ERROR_TYPE_OTHER}`, { [ATTR_MTLS_RENEGOTIATION_OUTCOME]: outcome, [ATTR_ERROR_TYPE]: ERROR_TYPE_OTHER }],
    );
    entry.count++;
    this.#bind();
  }

  /**
   * Counts one request whose forwarded-certificate headers (of proxy `format`) came from a peer
   * outside `proxy.trustedProxies`. The format name is from a fixed list, so cardinality stays bounded.
   */
  recordUntrustedProxyHeaders(format: string): void {
    const source = SOURCE_PATTERN.test(format) ? format : ERROR_TYPE_OTHER;
    const entry = this.untrustedProxyHeaders.entry(
      source,
      () => ({ [ATTR_MTLS_CLIENT_SOURCE]: source }),
      () => [ERROR_TYPE_OTHER, { [ATTR_MTLS_CLIENT_SOURCE]: ERROR_TYPE_OTHER }],
    );
    entry.count++;
    this.#bind();
  }

  // --- Identity policy and audit (expected identities, first-seen and rotation events) --------

  /**
   * Counts one request whose verified identity `expected` does not list: `reason` is the rule it
   * failed, `mode` the policy's mode. Both come from fixed vocabularies.
   */
  recordUnexpectedIdentity(reason: string, mode: string): void {
    const entry = this.unexpectedIdentities.entry(
      `${reason}|${mode}`,
      () => ({ [ATTR_MTLS_UNEXPECTED_REASON]: reason, [ATTR_MTLS_EXPECTED_MODE]: mode }),
      () => [`${ERROR_TYPE_OTHER}|${mode}`, { [ATTR_MTLS_UNEXPECTED_REASON]: ERROR_TYPE_OTHER, [ATTR_MTLS_EXPECTED_MODE]: mode }],
    );
    entry.count++;
    this.#bind();
  }

  /** Counts one identity audit event of kind `type` (`first_seen`, `rotation`, `unexpected`). */
  recordAuditEvent(type: string): void {
    const entry = this.auditEvents.entry(
      type,
      () => ({ [ATTR_MTLS_AUDIT_EVENT]: type }),
      () => [ERROR_TYPE_OTHER, { [ATTR_MTLS_AUDIT_EVENT]: ERROR_TYPE_OTHER }],
    );
    entry.count++;
    this.#bind();
  }

}
