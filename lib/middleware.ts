/**
 * `mtlsIdentity()`: the middleware. Per request it runs source → identity (cached) → outputs:
 * the identity source resolves the peer identity, the identity is attached to the request (for
 * `getPeerIdentity`), then each output (observer) built at factory time sees it, and optionally
 * the request is rejected. All option work happens here, once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { isMtlsError, type MtlsErrorCode } from './errors.js';
import { CertificateCache, DEFAULT_CERTIFICATE_CACHE_SIZE, defaultCertificateCache } from './certificate/cache.js';
import { DEFAULT_MAX_CERTIFICATE_BYTES, isCertificateByteLimit } from './certificate/parse.js';
import {
  assertFactoryCalled,
  isBoolean,
  isIntegerInRange,
  isNonEmptyString,
  optionGroup,
  validateOptions,
  type OptionSchema,
} from './internal/options.js';
import { attachPeerIdentity } from './identity/registry.js';
import { IDENTITY_REASONS, TLS_SOURCE, failedIdentity, type PeerIdentity } from './identity/peer-identity.js';
import type { UntrustedProxyHeadersEvent } from './identity/untrusted-proxy-headers.js';
import { guardOnce } from './internal/warn-once.js';
import { defaultTlsSource } from './get-peer-identity.js';
import type { IdentityOutput } from './outputs/output.js';
import type { IdentitySource } from './sources/source.js';
import { TlsSocketSource } from './sources/tls-socket.js';
import { createProxySource } from './sources/proxy/source.js';
import { PROXY_OPTIONS, resolveProxyOptions, type ProxyOptions } from './sources/proxy/options.js';
import { createSpanObserver, TRACING_OPTION_CHECKS, type TracingOptions } from './outputs/tracing.js';
import { MtlsMetrics, REQUEST_METRICS_OPTIONS, type RequestMetricsOptions } from './outputs/metrics.js';
import { writeUntrustedProxyHeadersLine } from './outputs/untrusted-proxy-headers.js';
import {
  compileExpectedIdentities,
  EXPECTED_IDENTITIES_OPTIONS,
  UnexpectedReports,
  type ExpectedIdentities,
  type ExpectedIdentitiesOptions,
  type UnexpectedIdentityReason,
} from './identity/expected-identities.js';
import {
  auditEvent,
  IdentityRecord,
  observeIdentity,
  type IdentityAuditEvent,
  type IdentityRecordHandle,
} from './identity/seen-identities.js';
import { formatIdentityAuditEvent, IDENTITY_AUDIT_OPTIONS, type IdentityAuditOptions } from './outputs/identity-audit.js';
import { identityAuditRecord } from './outputs/identity-audit-record.js';
import { LogRecordEmitter } from './outputs/log-records.js';
import { lineWriter } from './internal/log-destination.js';

/** `certificates` with the bounds of a cache the middleware builds for itself. */
export interface CertificateSizeOptions {
  /**
   * Most distinct parsed certificates kept across connections, so clients that reconnect are not
   * parsed again: an integer from 0 to 1000000; `0` disables this cache (each new connection
   * parses). Default: `1000`.
   */
  readonly cacheSize?: number;
  /**
   * Largest client certificate accepted, in bytes of DER: an integer from 256 to 1048576. A larger
   * one is not parsed: the request gets `verify: 'FAILED:ERR_MTLS_CERT_TOO_LARGE'` and no
   * `certificate`. Default: `16384` (16 KiB).
   */
  readonly maxBytes?: number;
  /** Not with `cacheSize` or `maxBytes`: set those on the cache. */
  readonly cache?: never;
}

/** `certificates` naming a cache to use. */
export interface CertificateCacheOption {
  /**
   * The {@link CertificateCache} to parse with (e.g. one shared by several middleware instances);
   * its own options set its size and certificate limit. No default.
   */
  readonly cache: CertificateCache;
  /** Not with `cache`: set `maxEntries` on the cache. */
  readonly cacheSize?: never;
  /** Not with `cache`: set `maxCertificateBytes` on the cache. */
  readonly maxBytes?: never;
}

/**
 * The `certificates` option of {@link mtlsIdentity}: the bounds of a cache of its own, or a cache
 * to use. Default (absent): the process-default cache (`defaultCertificateCache()`), shared with
 * `getPeerIdentity` and `startIncomingSpanHook`, so each certificate is parsed once.
 */
export type CertificatesOption = CertificateSizeOptions | CertificateCacheOption;

/** Options of {@link mtlsIdentity}, one nested object per concern. */
export interface MtlsIdentityOptions extends TracingOptions {
  /**
   * The `res.locals` key the identity is stored under (Express). Where `res.locals` does not
   * exist (Connect, `node:https`), use `getPeerIdentity(req)`. Default: `'mtls'`.
   */
  readonly localsKey?: string;
  /**
   * Reject requests without a verified client certificate: `verify: 'NONE'` gets HTTP 403 with
   * code `ERR_MTLS_CLIENT_CERT_REQUIRED`, `'FAILED:…'` HTTP 403 with `ERR_MTLS_CLIENT_CERT_INVALID`
   * (JSON body `{ code, message, verify }`). The request is still logged by morgan and still
   * counted. Default: `false` (every request passes; check `verified` yourself).
   */
  readonly require?: boolean;
  /**
   * How client certificates are parsed and cached (see {@link CertificatesOption}). Default: the
   * process-default cache, shared with `getPeerIdentity` and the span hook.
   */
  readonly certificates?: CertificatesOption;
  /**
   * Read the client certificate from a trusted proxy's headers (see {@link ProxyOptions} and
   * docs/proxies.md). Default: none (the TLS socket only; forwarded headers are never trusted).
   */
  readonly proxy?: ProxyOptions;
  /**
   * Record request and certificate metrics: `false` turns them off, an object sets them up (see
   * {@link RequestMetricsOptions}). Default: `{}` (on, with the global `MeterProvider`; a no-op
   * without an OpenTelemetry SDK).
   */
  readonly metrics?: false | RequestMetricsOptions;
  /**
   * Who may call (see {@link ExpectedIdentitiesOptions} and docs/identities.md): verified
   * identities that do not match are counted in `mtls.server.unexpected_identities`, reported as
   * `unexpected` audit events (once per certificate per window), and with `mode: 'enforce'`
   * answered with HTTP 403, code `ERR_MTLS_CLIENT_NOT_ALLOWED`. Default: none (every identity is expected).
   */
  readonly expected?: ExpectedIdentitiesOptions;
  /**
   * Keep a bounded record of the verified client certificates seen, and write an audit event when
   * one is seen for the first time, when a known subject or SPIFFE ID shows up with a new serial
   * number (a rotation), and for unexpected identities: counted, and written as a line, as an
   * OpenTelemetry log record (`audit.logs`, on by default once `audit` is set) and to `onEvent`
   * (see {@link IdentityAuditOptions} and docs/identities.md). Default: none (no record, no events).
   */
  readonly audit?: IdentityAuditOptions;
}

/** The middleware `mtlsIdentity()` returns: Connect/Express style, typed against `node:http`. */
export type MtlsIdentityMiddleware = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** Default {@link MtlsIdentityOptions.localsKey}. */
export const DEFAULT_LOCALS_KEY = 'mtls';

// Types `res.locals.mtls` for Express 4 and 5, whose `res.locals` is `Record<string, any> & Locals`
// (a declared property wins over the index signature). It names only the global `Express`
// namespace, so it needs no Express types: without them it declares an unused interface.
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- the only way to extend Express's global Locals
  namespace Express {
    interface Locals {
      /**
       * The client identity `mtlsIdentity()` stored, under the default `localsKey`. Present on
       * every request the middleware has run for; with another `localsKey`, read it with
       * `getPeerIdentity(req)`.
       */
      [DEFAULT_LOCALS_KEY]: PeerIdentity;
    }
  }
}

const FACTORY = 'mtlsIdentity()';

const CERTIFICATES_OPTIONS = optionGroup<CertificatesOption>({
  expected: 'an object such as { cacheSize: 1000, maxBytes: 16384 } or { cache: new CertificateCache() }',
  checks: {
    cacheSize: isIntegerInRange(0, 1_000_000),
    maxBytes: isCertificateByteLimit,
    cache: (v) => (v instanceof CertificateCache ? undefined : 'a CertificateCache instance'),
  },
  exclusive: [
    {
      key: 'cache',
      excludes: ['cacheSize', 'maxBytes'],
      fix: 'set the size and the limit on the CertificateCache instead (its maxEntries and maxCertificateBytes options)',
    },
  ],
});

const OPTION_CHECKS: OptionSchema<MtlsIdentityOptions> = {
  localsKey: isNonEmptyString,
  require: isBoolean,
  certificates: CERTIFICATES_OPTIONS,
  proxy: PROXY_OPTIONS,
  ...TRACING_OPTION_CHECKS,
  metrics: REQUEST_METRICS_OPTIONS,
  expected: EXPECTED_IDENTITIES_OPTIONS,
  audit: IDENTITY_AUDIT_OPTIONS,
};

/** Fully resolved options: what a request needs, nothing left to decide per request. */
interface MiddlewareConfig {
  readonly source: IdentitySource;
  /** Already guarded: none of them can throw. */
  readonly observers: readonly IdentityOutput[];
  readonly require: boolean;
  /** The expected-identity policy and the audit record, or `undefined` when neither is set. */
  readonly identityChecks: IdentityChecks | undefined;
  /** Refuse unexpected identities (`expected.mode: 'enforce'`). */
  readonly enforce: boolean;
}

/** Per request: the rule the identity failed, if any (after counting, recording and reporting). */
type IdentityChecks = (identity: PeerIdentity, req: IncomingMessage) => UnexpectedIdentityReason | undefined;

/** The certificate cache and TLS source for `certificates`: the process-default ones when absent. */
function tlsSourceFor(option: CertificatesOption | undefined): { tls: TlsSocketSource; certificates: CertificateCache } {
  if (option === undefined) return { tls: defaultTlsSource(), certificates: defaultCertificateCache() };
  const certificates =
    option.cache ??
    new CertificateCache({
      maxEntries: option.cacheSize ?? DEFAULT_CERTIFICATE_CACHE_SIZE,
      maxCertificateBytes: option.maxBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES,
    });
  return { tls: new TlsSocketSource({ certificates }), certificates };
}

function resolveConfig(options: MtlsIdentityOptions | undefined): MiddlewareConfig {
  const o = validateOptions<MtlsIdentityOptions>(FACTORY, options, OPTION_CHECKS);
  const { tls, certificates } = tlsSourceFor(o.certificates);
  const required = o.require ?? false;
  const observers: IdentityOutput[] = [guardOutput('res.locals', localsObserver(o.localsKey ?? DEFAULT_LOCALS_KEY))];
  const spanObserver = o.tracing === false ? undefined : createSpanObserver();
  if (spanObserver !== undefined) observers.push(guardOutput('span attributes', spanObserver));
  const metrics = o.metrics === false ? undefined : new MtlsMetrics({ ...o.metrics, trackCertificates: true, required });
  if (metrics !== undefined) observers.push(guardOutput('metrics', (identity) => metrics.recordRequest(identity)));
  const expected = o.expected === undefined ? undefined : compileExpectedIdentities(FACTORY, 'expected', o.expected);
  if (expected?.mode === 'enforce' && !required) {
    throw new TypeError(
      `${FACTORY}: option "expected.mode" is "enforce", which needs "require: true": without it a client with no ` +
        'certificate passes where an unexpected verified one is refused. Set require: true, or use mode "observe".',
    );
  }
  const identityChecks = identityChecksFor(expected, o.audit, metrics);
  const enforce = expected?.mode === 'enforce';
  if (o.proxy === undefined) return { source: tls, observers, require: required, identityChecks, enforce };
  // Headers from trusted proxies, the TLS socket otherwise; every spoofing attempt goes to the outputs.
  const source = createProxySource(resolveProxyOptions(FACTORY, o.proxy), {
    fallback: tls,
    certificates,
    onUntrustedHeaders: untrustedHeadersOutputs(metrics, o.proxy.onUntrustedHeaders),
  });
  return { source, observers, require: required, identityChecks, enforce };
}

/** What is kept per identity object (per connection): the record entry to count on, the policy's verdict. */
interface IdentityState {
  readonly handle: IdentityRecordHandle | undefined;
  readonly unexpected: UnexpectedIdentityReason | undefined;
}

/**
 * The per-request step of `expected` and `audit`. The record, the policy and the reports run once
 * per identity object (identities are kept per connection); per request only the counts.
 */
function identityChecksFor(
  expected: ExpectedIdentities | undefined,
  audit: IdentityAuditOptions | undefined,
  metrics: MtlsMetrics | undefined,
): IdentityChecks | undefined {
  if (expected === undefined && audit === undefined) return undefined;
  const record = audit === undefined ? undefined : (audit.record ?? new IdentityRecord({ maxEntries: audit.maxEntries }));
  const emit = auditOutputs(audit, metrics);
  const reports = expected === undefined ? undefined : new UnexpectedReports(expected.reportWindowMs);
  const states = new WeakMap<PeerIdentity, IdentityState>();
  const countUnexpected =
    metrics === undefined || expected === undefined
      ? undefined
      : guardOnce(FACTORY, 'the unexpected-identities metric', (reason: string) => metrics.recordUnexpectedIdentity(reason, expected.mode));
  return (identity, req) => {
    if (!identity.verified) return undefined;
    let state = states.get(identity);
    const now = Date.now();
    if (state === undefined) {
      const remoteAddress = req.socket?.remoteAddress;
      const seen = record === undefined ? undefined : observeIdentity(record, identity, now, remoteAddress);
      if (seen?.event !== undefined) emit?.(seen.event);
      const unexpected = expected?.check(identity);
      const certificate = identity.certificate;
      if (unexpected !== undefined && emit !== undefined && certificate !== undefined && reports!.due(certificate.fingerprint256, now)) {
        emit(auditEvent('unexpected', identity.source, certificate, new Date(now), { reason: unexpected, mode: expected!.mode, remoteAddress }));
      }
      state = { handle: seen?.handle, unexpected };
      states.set(identity, state);
    }
    state.handle?.count(now);
    if (state.unexpected !== undefined) countUnexpected?.(state.unexpected);
    return state.unexpected;
  };
}

/**
 * Where an audit event goes: counted, written as a line, passed to `onEvent`, emitted as a log
 * record; each guarded on its own.
 */
function auditOutputs(audit: IdentityAuditOptions | undefined, metrics: MtlsMetrics | undefined): ((event: IdentityAuditEvent) => void) | undefined {
  if (audit === undefined) return undefined;
  const outputs: ((event: IdentityAuditEvent) => void)[] = [];
  if (metrics !== undefined) outputs.push(guardOnce(FACTORY, 'the audit-events metric', (event) => metrics.recordAuditEvent(event.type)));
  const write = lineWriter(audit.log);
  if (write !== undefined) {
    const format = audit.logFormat ?? 'text';
    outputs.push(guardOnce(FACTORY, 'option "audit.log"', (event) => write(formatIdentityAuditEvent(event, format))));
  }
  if (audit.onEvent !== undefined) outputs.push(guardOnce(FACTORY, 'option "audit.onEvent"', audit.onEvent));
  if (audit.logs !== false) {
    const records = new LogRecordEmitter(audit.logs ?? {});
    outputs.push(guardOnce(FACTORY, 'option "audit.logs"', (event) => records.emit(identityAuditRecord(event))));
  }
  return (event) => {
    for (const output of outputs) output(event);
  };
}

/**
 * Where a spoofing attempt goes: counted in the metrics (when on) and reported to the user's hook,
 * or by default as a JSON line on stderr (`false`: not reported). Each is guarded on its own, so a
 * throwing hook does not stop the count.
 */
function untrustedHeadersOutputs(
  metrics: MtlsMetrics | undefined,
  hook: ((event: UntrustedProxyHeadersEvent) => void) | false | undefined,
): ((event: UntrustedProxyHeadersEvent) => void) | undefined {
  const outputs: ((event: UntrustedProxyHeadersEvent) => void)[] = [];
  if (metrics !== undefined) {
    outputs.push(guardOnce(FACTORY, 'the untrusted-headers metric', (event) => metrics.recordUntrustedProxyHeaders(event.format)));
  }
  const report = hook === false ? undefined : (hook ?? writeUntrustedProxyHeadersLine);
  if (report !== undefined) outputs.push(guardOnce(FACTORY, 'option "proxy.onUntrustedHeaders"', report));
  if (outputs.length === 0) return undefined;
  return (event) => {
    for (const output of outputs) output(event);
  };
}

/**
 * The mTLS identity middleware. Resolves the client identity of each request from its TLS
 * connection (parsed once per connection) or, with `proxy`, from a trusted proxy's headers;
 * stores it in `res.locals.mtls` (where `res.locals` exists) and for `getPeerIdentity(req)`;
 * sets span attributes and records metrics; and with `require: true` rejects requests without a
 * verified client certificate. Never throws from a request.
 *
 * @throws {TypeError} at factory time for an unknown option or a wrong type, and when passed to
 *   `app.use()` uncalled.
 */
export function mtlsIdentity(options?: MtlsIdentityOptions): MtlsIdentityMiddleware {
  assertFactoryCalled(FACTORY, options);
  const { source, observers, require, identityChecks, enforce } = resolveConfig(options);

  return function mtlsIdentityMiddleware(request, response, next) {
    const req = request as IncomingMessage;
    const res = response as ServerResponse;
    let identity: PeerIdentity;
    try {
      identity = source.resolve(req);
    } catch (error) {
      // A source must not throw; if one does, the request still gets a recorded outcome.
      identity = sourceFailure(error);
    }
    attachPeerIdentity(req, identity);
    for (let i = 0; i < observers.length; i++) observers[i]!(identity, req, res);
    if (require && !identity.verified) {
      reject(res, identity);
      return;
    }
    if (identityChecks !== undefined) {
      const unexpected = identityChecks(identity, req);
      if (enforce && unexpected !== undefined) {
        refuse(res, 'ERR_MTLS_CLIENT_NOT_ALLOWED', `The client identity is not allowed (${unexpected}).`, identity);
        return;
      }
    }
    next();
  };
}

/** An output that never throws; its first failure is reported once as a process warning. */
function guardOutput(name: string, output: IdentityOutput): IdentityOutput {
  return guardOnce(FACTORY, `the ${name} output`, output);
}

function localsObserver(key: string): IdentityOutput {
  return (identity, _req, res) => {
    const locals = (res as { locals?: unknown }).locals;
    if (typeof locals === 'object' && locals !== null) (locals as Record<string, unknown>)[key] = identity;
  };
}

function sourceFailure(error: unknown): PeerIdentity {
  return failedIdentity(TLS_SOURCE, isMtlsError(error) ? error.code : IDENTITY_REASONS.sourceError);
}

function reject(res: ServerResponse, identity: PeerIdentity): void {
  const missing = identity.verify === 'NONE';
  const code: MtlsErrorCode = missing ? 'ERR_MTLS_CLIENT_CERT_REQUIRED' : 'ERR_MTLS_CLIENT_CERT_INVALID';
  const message = missing
    ? 'A client certificate is required.'
    : `The client certificate was not accepted (${identity.reason ?? 'unverified'}).`;
  refuse(res, code, message, identity);
}

/** HTTP 403 with the JSON body `{ code, message, verify }`, never cached. */
function refuse(res: ServerResponse, code: MtlsErrorCode, message: string, identity: PeerIdentity): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ code, message, verify: identity.verify });
  // RFC 9110 section 15.5.4: 403 covers both "no credentials" and "credentials refused"; 401 would
  // require a WWW-Authenticate challenge, and there is no HTTP scheme for TLS client certificates.
  res.statusCode = 403;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
