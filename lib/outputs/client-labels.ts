/**
 * Per-client labels of the metrics (`metrics.clients`): how a verified identity becomes the
 * `mtls.client.id` attribute, and the table that bounds how many distinct values there can be.
 *
 * Three rules keep the series bounded whatever clients do:
 * - only verified identities are labelled: a client without a certificate the server (or a trusted
 *   proxy) verified cannot add a value, however many certificates it makes;
 * - values are names, not certificates: a client that reconnects, renegotiates or rotates its
 *   certificate keeps its value (with `'spiffe-id'`, `'subject-cn'` or `'subject'`);
 * - the table is filled first come, first served, up to `maxClients`, and never forgets: the
 *   OpenTelemetry SDK goes on exporting every attribute set it has seen (cumulative temporality),
 *   so a slot given to a new client after an old one left would grow the exported series, not
 *   keep them bounded. Clients past the limit are counted under {@link CLIENT_ID_OTHER}.
 */
import type { PeerCertificate } from '../certificate/peer-certificate.js';
import type { PeerIdentity } from '../identity/peer-identity.js';
import { boundedLogText, boundedLogUri } from '../internal/log-safe.js';
import { isIntegerInRange, optionGroup, type OptionCheck, type OptionGroup } from '../internal/options.js';
import { guardOnce } from '../internal/warn-once.js';
import { CLIENT_ID_OTHER } from './semconv.js';

/** The built-in ways a verified client becomes a label. */
export const CLIENT_LABEL_KINDS = ['spiffe-id', 'subject-cn', 'subject'] as const;

/**
 * `'spiffe-id'`: the certificate's single `spiffe://` URI SAN; `'subject-cn'`: the most specific
 * common name of the subject; `'subject'`: the whole subject DN (RFC 4514, as in
 * `certificate.subject`).
 */
export type ClientLabelKind = (typeof CLIENT_LABEL_KINDS)[number];

/**
 * A label of your own: called once per verified identity (once per connection), never for an
 * unverified one. Return a string, or `undefined` for no label. It should map many certificates to
 * one name (a service, a team): every distinct value takes a slot of `maxClients`. A throw counts as
 * `undefined` (one process warning, code `MTLS_OBSERVER_ERROR`).
 */
export type ClientLabelFunction = (identity: PeerIdentity) => string | undefined;

/** The `metrics.clients` option of `mtlsIdentity()`: per-client metrics, bounded. */
export interface ClientMetricsOptions {
  /**
   * How a verified client becomes its `mtls.client.id` value: `'spiffe-id'`, `'subject-cn'`,
   * `'subject'` (see {@link ClientLabelKind}) or a {@link ClientLabelFunction}. A client without
   * that value (no SPIFFE ID, no CN, a function's `undefined`) gets no label. Values are made
   * log-safe and cut to {@link MAX_CLIENT_ID_LENGTH} characters plus `...[truncated]`; the value
   * `_OTHER` is the overflow's. Required.
   */
  readonly label: ClientLabelKind | ClientLabelFunction;
  /**
   * Most distinct `mtls.client.id` values, for the life of the middleware: an integer from 1 to
   * 10000. Verified clients beyond them are counted under `mtls.client.id="_OTHER"` and in
   * `mtls.server.client_id.folded_requests`. Default: `100`.
   */
  readonly maxClients?: number;
}

/** Default of {@link ClientMetricsOptions.maxClients}. */
export const DEFAULT_MAX_CLIENTS = 100;
/** Largest accepted {@link ClientMetricsOptions.maxClients}. */
export const MAX_MAX_CLIENTS = 10_000;
/** Longest `mtls.client.id` value before the truncation marker, in UTF-16 code units of the escaped text. */
export const MAX_CLIENT_ID_LENGTH = 256;

const CN_OID = '2.5.4.3';

const isClientLabel: OptionCheck = (v) =>
  typeof v === 'function' || (CLIENT_LABEL_KINDS as readonly unknown[]).includes(v)
    ? undefined
    : `${CLIENT_LABEL_KINDS.map((k) => JSON.stringify(k)).join(', ')} or a function (identity) => string | undefined`;

/** The checks of `metrics.clients`. */
export const CLIENT_METRICS_OPTIONS: OptionGroup = optionGroup<ClientMetricsOptions>({
  expected: 'false (off) or an object such as { label: "spiffe-id", maxClients: 100 }',
  allowFalse: true,
  checks: { label: isClientLabel, maxClients: isIntegerInRange(1, MAX_MAX_CLIENTS) },
  required: {
    label: 'say how a verified client becomes a label: "spiffe-id", "subject-cn", "subject" or a function',
  },
});

/** The most specific CN of a subject: the last one in DER order (RFC 4514 writes it first). */
function commonNameOf(certificate: PeerCertificate): string | undefined {
  const rdns = certificate.subjectAttributes;
  for (let i = rdns.length - 1; i >= 0; i--) {
    for (const attribute of rdns[i]!) if (attribute.oid === CN_OID) return attribute.value;
  }
  return undefined;
}

function builtInLabel(kind: ClientLabelKind): (identity: PeerIdentity) => string | undefined {
  switch (kind) {
    case 'spiffe-id':
      return (identity) => {
        const id = identity.certificate?.spiffeId;
        return id === undefined ? undefined : boundedLogUri(id, MAX_CLIENT_ID_LENGTH);
      };
    case 'subject-cn':
      return (identity) => {
        const cn = identity.certificate === undefined ? undefined : commonNameOf(identity.certificate);
        return cn === undefined || cn === '' ? undefined : boundedLogText(cn, MAX_CLIENT_ID_LENGTH);
      };
    case 'subject':
      return (identity) => {
        const subject = identity.certificate?.subject;
        return subject === undefined || subject === '' ? undefined : boundedLogText(subject, MAX_CLIENT_ID_LENGTH);
      };
  }
}

function customLabel(label: ClientLabelFunction): (identity: PeerIdentity) => string | undefined {
  let value: unknown;
  const call = guardOnce('mtlsIdentity()', 'option "metrics.clients.label"', (identity: PeerIdentity) => {
    value = label(identity);
  });
  return (identity) => {
    value = undefined;
    call(identity);
    return typeof value === 'string' && value !== '' ? boundedLogText(value, MAX_CLIENT_ID_LENGTH) : undefined;
  };
}

/**
 * The label table: which `mtls.client.id` values exist, at most `maxClients`, first come first
 * served, for the life of the table.
 */
export class ClientLabels {
  readonly #ids = new Set<string>();
  readonly #max: number;
  readonly #valueOf: (identity: PeerIdentity) => string | undefined;

  /** Takes already validated options ({@link CLIENT_METRICS_OPTIONS}). */
  constructor(options: ClientMetricsOptions) {
    this.#max = options.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.#valueOf = typeof options.label === 'function' ? customLabel(options.label) : builtInLabel(options.label);
  }

  /** Most distinct values this table gives out (besides {@link CLIENT_ID_OTHER}). */
  get maxClients(): number {
    return this.#max;
  }

  /**
   * The `mtls.client.id` of `identity`: `undefined` when it is not verified or has no value, its
   * value when that is in the table or there is room, else {@link CLIENT_ID_OTHER}.
   */
  labelOf(identity: PeerIdentity): string | undefined {
    if (!identity.verified) return undefined;
    const value = this.#valueOf(identity);
    if (value === undefined) return undefined;
    if (this.#ids.has(value)) return value;
    if (value === CLIENT_ID_OTHER || this.#ids.size >= this.#max) return CLIENT_ID_OTHER;
    this.#ids.add(value);
    return value;
  }

  /** The values given out, in the order they were first seen. */
  ids(): IterableIterator<string> {
    return this.#ids.values();
  }
}
