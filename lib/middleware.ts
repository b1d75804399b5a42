/**
 * `mtlsIdentity()`: the middleware. Per request it runs source → identity (cached) → outputs:
 * the identity source resolves the peer identity, the identity is attached to the request (for
 * `getPeerIdentity`), then each output (observer) built at factory time sees it, and optionally
 * the request is rejected. All option work happens here, once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { isMtlsError, type MtlsErrorCode } from './errors.js';
import { CertificateCache, DEFAULT_CERTIFICATE_CACHE_SIZE } from './certificate/cache.js';
import { DEFAULT_MAX_CERTIFICATE_BYTES, isCertificateByteLimit } from './certificate/parse.js';
import { assertFactoryCalled, isBoolean, isIntegerInRange, isNonEmptyString, validateOptions, type OptionCheck } from './internal/options.js';
import { attachPeerIdentity } from './identity/registry.js';
import { IDENTITY_REASONS, TLS_SOURCE, failedIdentity, type PeerIdentity } from './identity/peer-identity.js';
import { guardOnce } from './internal/warn-once.js';
import type { IdentityOutput } from './outputs/output.js';
import type { IdentitySource } from './sources/source.js';
import { TlsSocketSource } from './sources/tls-socket.js';
import {
  createProxySource,
  PROXY_SOURCE_OPTION_CHECKS,
  type ProxySourceOptions,
  type UntrustedProxyHeadersEvent,
} from './sources/proxy/source.js';
// Traces and metrics (lib/tracing.ts, lib/metrics.ts).
import { createSpanObserver, TRACING_OPTION_CHECKS, type TracingOptions } from './outputs/tracing.js';
import {
  CERTIFICATE_EXPIRY_OPTION_CHECKS,
  METRICS_OPTION_CHECKS,
  MtlsMetrics,
  type CertificateExpiryMetricsOptions,
  type MetricsOptions,
} from './outputs/metrics.js';

/**
 * Options of {@link mtlsIdentity}. The trusted-proxy options (`trustedProxies`, `proxyFormat`, ...)
 * are documented on {@link ProxySourceOptions} and in docs/proxies.md.
 */
export interface MtlsIdentityOptions
  extends ProxySourceOptions,
    TracingOptions,
    MetricsOptions,
    CertificateExpiryMetricsOptions {
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
   * Most distinct parsed certificates kept across connections, so clients that reconnect are not
   * parsed again. `0` disables this cache (each new connection parses). Default: `1000`.
   * Not together with `certificateCache`.
   */
  readonly certificateCacheSize?: number;
  /**
   * Largest client certificate accepted, in bytes of DER. A larger one is not parsed: the request
   * gets `verify: 'FAILED:ERR_MTLS_CERT_TOO_LARGE'` and no `certificate`. An integer from 256 to
   * 1048576. Default: `16384` (16 KiB). Not together with `certificateCache` (set it there).
   */
  readonly maxCertificateBytes?: number;
  /**
   * A {@link CertificateCache} to use (e.g. one shared by several middleware instances).
   * Default: a new cache of `certificateCacheSize` entries that accepts certificates up to
   * `maxCertificateBytes`.
   */
  readonly certificateCache?: CertificateCache;
}

/** The middleware `mtlsIdentity()` returns: Connect/Express style, typed against `node:http`. */
export type MtlsIdentityMiddleware = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** Default {@link MtlsIdentityOptions.localsKey}. */
export const DEFAULT_LOCALS_KEY = 'mtls';

const OPTION_CHECKS: { readonly [K in keyof MtlsIdentityOptions]-?: OptionCheck } = {
  localsKey: isNonEmptyString,
  require: isBoolean,
  certificateCacheSize: isIntegerInRange(0, 1_000_000),
  certificateCache: (v) => (v instanceof CertificateCache ? undefined : 'a CertificateCache instance'),
  maxCertificateBytes: isCertificateByteLimit,
  // Trusted-proxy source (lib/proxy-source.ts).
  ...PROXY_SOURCE_OPTION_CHECKS,
  // Traces and metrics (lib/tracing.ts, lib/metrics.ts).
  ...TRACING_OPTION_CHECKS,
  ...METRICS_OPTION_CHECKS,
  ...CERTIFICATE_EXPIRY_OPTION_CHECKS,
};

/** Fully resolved options: what a request needs, nothing left to decide per request. */
interface MiddlewareConfig {
  readonly source: IdentitySource;
  /** Already guarded: none of them can throw. */
  readonly observers: readonly IdentityOutput[];
  readonly require: boolean;
}

function resolveConfig(options: MtlsIdentityOptions | undefined): MiddlewareConfig {
  const o = validateOptions<MtlsIdentityOptions>('mtlsIdentity()', options, OPTION_CHECKS);
  for (const [option, fix] of [
    ['certificateCacheSize', 'set the size on the CertificateCache instead'],
    ['maxCertificateBytes', 'set the limit on the CertificateCache instead (its maxCertificateBytes option)'],
  ] as const) {
    if (o.certificateCache !== undefined && o[option] !== undefined) {
      throw new TypeError(`mtlsIdentity(): options "certificateCache" and "${option}" exclude each other; ${fix}.`);
    }
  }
  const certificates =
    o.certificateCache ??
    new CertificateCache({
      maxEntries: o.certificateCacheSize ?? DEFAULT_CERTIFICATE_CACHE_SIZE,
      maxCertificateBytes: o.maxCertificateBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES,
    });
  const tlsSource = new TlsSocketSource({ certificates });
  const observers: IdentityOutput[] = [guardOutput('res.locals', localsObserver(o.localsKey ?? DEFAULT_LOCALS_KEY))];
  // Traces and metrics (lib/tracing.ts, lib/metrics.ts): built here, nothing decided per request.
  const spanObserver = o.tracing === false ? undefined : createSpanObserver();
  if (spanObserver !== undefined) observers.push(guardOutput('span attributes', spanObserver));
  const metrics =
    o.metrics === false
      ? undefined
      : new MtlsMetrics({
          trackCertificates: true,
          required: o.require ?? false,
          ...(o.meterProvider !== undefined ? { meterProvider: o.meterProvider } : {}),
          ...(o.expiryWarningSeconds !== undefined ? { expiryWarningSeconds: o.expiryWarningSeconds } : {}),
          ...(o.recentCertificateSeconds !== undefined ? { recentCertificateSeconds: o.recentCertificateSeconds } : {}),
        });
  if (metrics !== undefined) observers.push(guardOutput('metrics', (identity) => metrics.recordRequest(identity)));
  // Trusted-proxy source (lib/proxy-source.ts): headers from trusted proxies, the TLS socket
  // otherwise; every spoofing attempt is also counted.
  const countUntrusted =
    metrics === undefined
      ? undefined
      : (event: UntrustedProxyHeadersEvent) => metrics.recordUntrustedProxyHeaders(event.format);
  const source: IdentitySource =
    createProxySource('mtlsIdentity()', o, tlsSource, certificates, countUntrusted) ?? tlsSource;
  return { source, observers, require: o.require ?? false };
}

/**
 * The mTLS identity middleware. Resolves the client identity of each request from its TLS
 * connection (parsed once per connection) or, with `proxyFormat`, from a trusted proxy's headers;
 * stores it in `res.locals.mtls` (where `res.locals` exists) and for `getPeerIdentity(req)`;
 * sets span attributes and records metrics; and with `require: true` rejects requests without a
 * verified client certificate. Never throws from a request.
 *
 * @throws {TypeError} at factory time for an unknown option or a wrong type, and when passed to
 *   `app.use()` uncalled.
 */
export function mtlsIdentity(options?: MtlsIdentityOptions): MtlsIdentityMiddleware {
  assertFactoryCalled('mtlsIdentity()', options);
  const { source, observers, require } = resolveConfig(options);

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
    next();
  };
}

/** An output that never throws; its first failure is reported once as a process warning. */
function guardOutput(name: string, output: IdentityOutput): IdentityOutput {
  return guardOnce('mtlsIdentity()', `the ${name} output`, output);
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
  if (res.headersSent) return;
  const missing = identity.verify === 'NONE';
  const code: MtlsErrorCode = missing ? 'ERR_MTLS_CLIENT_CERT_REQUIRED' : 'ERR_MTLS_CLIENT_CERT_INVALID';
  const message = missing
    ? 'A client certificate is required.'
    : `The client certificate was not accepted (${identity.reason ?? 'unverified'}).`;
  const body = JSON.stringify({ code, message, verify: identity.verify });
  // RFC 9110 section 15.5.4: 403 covers both "no credentials" and "credentials refused"; 401 would
  // require a WWW-Authenticate challenge, and there is no HTTP scheme for TLS client certificates.
  res.statusCode = 403;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
