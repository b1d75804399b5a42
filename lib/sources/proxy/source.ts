/**
 * The trusted-proxy identity source: when TLS ends at a proxy, the client certificate arrives in
 * request headers. Those headers are honoured only when the TCP peer is a configured trusted
 * proxy; from anyone else they are removed from the request (so later code cannot read them),
 * reported as a spoofing attempt, and the identity comes from the fallback source (the TLS
 * socket). The same names are removed from every request's trailers. Every bad value becomes a
 * recorded `FAILED:<reason>` outcome, never an exception.
 */
import type { IncomingMessage } from 'node:http';
import { CertificateCache } from '../../certificate/cache.js';
import {
  ProxyHeaderError,
  type EnvoyForwardClientCertDetails,
  type ForwardedCertificate,
  type ProxyFailureReason,
  type ProxyFormat,
} from './formats/format.js';
import { DEFAULT_MAX_PROXY_CHAIN_LENGTH, DEFAULT_MAX_PROXY_HEADER_BYTES } from './limits.js';
import { awsAlbFormat } from './formats/aws-alb.js';
import { caddyFormat } from './formats/caddy.js';
import { cloudflareFormat } from './formats/cloudflare.js';
import { envoyXfccFormat } from './formats/envoy-xfcc.js';
import { haproxyFormat } from './formats/haproxy.js';
import { nginxFormat } from './formats/nginx.js';
import { rfc9440Format } from './formats/rfc9440.js';
import { traefikFormat } from './formats/traefik.js';
import { stringifyLogSafe } from '../../internal/log-safe.js';
import { compileTrustedProxies, type TrustedProxyMatcher } from './trust.js';
import { describeValue, isIntegerInRange, isOneOf, type OptionCheck } from '../../internal/options.js';
import { isMtlsError } from '../../errors.js';
import type { IdentitySource } from '../source.js';
import {
  PROXY_FORMAT_NAMES,
  failedIdentity,
  missingIdentity,
  verifiedIdentity,
  type PeerIdentity,
  type ProxyFormatName,
} from '../../identity/peer-identity.js';
import type { PeerCertificate } from '../../certificate/peer-certificate.js';

/** The supported forwarded-certificate formats, by name (the identity's `source`). */
export const PROXY_FORMATS = Object.freeze({
  'envoy-xfcc': envoyXfccFormat,
  nginx: nginxFormat,
  traefik: traefikFormat,
  'aws-alb': awsAlbFormat,
  caddy: caddyFormat,
  haproxy: haproxyFormat,
  cloudflare: cloudflareFormat,
  rfc9440: rfc9440Format,
} satisfies Record<ProxyFormatName, ProxyFormat>);

export { DEFAULT_MAX_PROXY_CHAIN_LENGTH, DEFAULT_MAX_PROXY_HEADER_BYTES };

/**
 * Reported once per request that carried forwarded-certificate headers from an untrusted peer,
 * and once more when a request's trailers carried any of those names.
 */
export interface UntrustedProxyHeadersEvent {
  /** The TCP peer address (`socket.remoteAddress`), `undefined` when the socket is gone. */
  readonly remoteAddress: string | undefined;
  /** The format whose headers were sent. */
  readonly format: ProxyFormatName;
  /** Lowercase names of the headers that were present and removed. */
  readonly headers: readonly string[];
  /**
   * `true` when the names came in the request's trailers (reported when the body has been read,
   * from any peer: no proxy rewrites trailers); absent for headers.
   */
  readonly trailers?: true;
}

/** The `mtlsIdentity()` options that read the client certificate from a trusted proxy. */
export interface ProxySourceOptions {
  /**
   * CIDRs (or single addresses) of the proxies allowed to forward client certificates, e.g.
   * `['127.0.0.1/32', '10.0.0.0/8', '::1']`. IPv4 entries also match IPv4-mapped IPv6 peers; an
   * IPv6 range that contains `::ffff:0:0/96` (such as `::/64`) is refused, since it would trust
   * every IPv4 peer. A link-local peer with a zone (`fe80::1%eth0`) matches only an entry with the
   * same zone. Required with `proxyFormat`. Default: none (headers are never trusted).
   */
  readonly trustedProxies?: readonly string[];
  /**
   * Read the client certificate from this proxy's headers (when the peer is trusted). Default:
   * none: the identity comes from the TLS socket only.
   */
  readonly proxyFormat?: ProxyFormatName;
  /**
   * Header names per role, replacing the format's defaults (e.g. `{ cert: 'ssl-client-cert',
   * verify: 'ssl-client-verify' }` for ingress-nginx). Roles are listed per format in
   * docs/proxies.md. Default: the format's own names.
   */
  readonly proxyHeaderNames?: Readonly<Record<string, string>>;
  /** Longest accepted header value, in bytes. Default: `16384`. */
  readonly maxProxyHeaderBytes?: number;
  /** Most certificates (or XFCC elements) one header may carry. Default: `8`. */
  readonly maxProxyChainLength?: number;
  /**
   * Called (guarded) when a request from an untrusted peer carried the format's headers, and when
   * any request's trailers carried them (`trailers: true`); they have already been removed.
   * `false` silences it. Default: one JSON line on `process.stderr`.
   */
  readonly onUntrustedProxyHeaders?: ((event: UntrustedProxyHeadersEvent) => void) | false;
  /**
   * With `proxyFormat: 'envoy-xfcc'`: the nearest Envoy's `forward_client_cert_details`.
   * `'SANITIZE_SET'` (recommended): the header must be exactly one element, anything else is
   * `FAILED:HEADER_INVALID`. `'APPEND_FORWARD'` (Istio's sidecars): the rightmost element is read.
   * Envoy's other modes pass on a client's header and are refused. See docs/proxies.md.
   * Default: `'SANITIZE_SET'`.
   */
  readonly envoyForwardClientCertDetails?: EnvoyForwardClientCertDetails;
}

/** Envoy's `forward_client_cert_details` values, and why the unreadable ones are refused. */
const ENVOY_FORWARD_MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'];
const REFUSED_ENVOY_MODES: Readonly<Record<string, string>> = {
  SANITIZE: 'Envoy then removes x-forwarded-client-cert, so there is nothing to read',
  FORWARD_ONLY: 'Envoy then passes on the x-forwarded-client-cert its client sent, so any client could choose its identity',
  ALWAYS_FORWARD_ONLY: 'Envoy then passes on the x-forwarded-client-cert its client sent, even without mutual TLS, so any client could choose its identity',
};

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `validateOptions` checks for {@link ProxySourceOptions} (shape only; meaning is checked later). */
export const PROXY_SOURCE_OPTION_CHECKS: { readonly [K in keyof ProxySourceOptions]-?: OptionCheck } = {
  trustedProxies: (v) =>
    Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'string')
      ? undefined
      : 'a non-empty array of CIDR strings such as ["10.0.0.0/8", "::1"]',
  proxyFormat: isOneOf(PROXY_FORMAT_NAMES),
  proxyHeaderNames: (v) =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((name) => typeof name === 'string' && HEADER_NAME.test(name))
      ? undefined
      : 'an object mapping roles to header names, such as { cert: "ssl-client-cert" }',
  maxProxyHeaderBytes: isIntegerInRange(64, 1_048_576),
  maxProxyChainLength: isIntegerInRange(1, 64),
  onUntrustedProxyHeaders: (v) =>
    typeof v === 'function' || v === false ? undefined : 'a function or false',
  envoyForwardClientCertDetails: isOneOf(ENVOY_FORWARD_MODES),
};

/** Most distinct header values whose identity is remembered. */
const HEADER_CACHE_SIZE = 256;

function defaultUntrustedReport(event: UntrustedProxyHeadersEvent): void {
  process.stderr.write(
    `${stringifyLogSafe({
      time: new Date().toISOString(),
      event: 'mtls.untrusted_proxy_headers',
      remoteAddress: event.remoteAddress ?? null,
      format: event.format,
      headers: event.headers,
      ...(event.trailers ? { trailers: true } : {}),
    })}\n`,
  );
}

/**
 * Removes `names` from every view Node gives of the request headers (or trailers): the two objects
 * (`headers` and `headersDistinct`), then the raw list (edited in place). The objects are
 * computed lazily from the raw list with a count fixed at parse time, so they are materialised
 * first: a shorter raw list would break their getters. Returns the lowercase names found.
 */
function removeNames(
  objects: readonly unknown[],
  raw: string[] | undefined,
  names: ReadonlySet<string>,
): string[] | undefined {
  // HTTP/2's compatibility request has no headersDistinct / trailersDistinct.
  for (const view of objects) {
    if (typeof view !== 'object' || view === null) continue;
    for (const name of names) delete (view as Record<string, unknown>)[name];
  }
  if (!Array.isArray(raw)) return undefined;
  let found: string[] | undefined;
  let kept = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (names.has(lower)) {
      if (!(found ??= []).includes(lower)) found.push(lower);
      continue;
    }
    raw[kept] = raw[i]!;
    raw[kept + 1] = raw[i + 1]!;
    kept += 2;
  }
  raw.length = kept;
  return found;
}

/** Resolved configuration of the proxy source; built once per middleware. */
export interface ProxySource extends IdentitySource {
  /** The format's name. */
  readonly format: ProxyFormatName;
  /** Lowercase header names stripped from untrusted peers (those read, and their companions). */
  readonly headerNames: readonly string[];
  /** Whether `address` is a trusted proxy. */
  readonly isTrusted: TrustedProxyMatcher;
}

/**
 * Builds the proxy source, or returns `undefined` when no `proxyFormat` is configured. All option
 * work happens here; throws a `TypeError` naming `factory` for a configuration that would trust
 * headers without a trusted-proxy list (or the reverse), bad CIDRs and unknown header roles.
 *
 * @param fallback resolves requests from untrusted peers (their own TLS connection).
 * @param certificates the parsed-certificate cache shared with the TLS source.
 * @param observeUntrusted internal hook (e.g. a metrics counter), called guarded for every
 *   spoofing attempt in addition to the user's `onUntrustedProxyHeaders`.
 */
export function createProxySource(
  factory: string,
  options: ProxySourceOptions,
  fallback: IdentitySource,
  certificates: CertificateCache = new CertificateCache(),
  observeUntrusted?: (event: UntrustedProxyHeadersEvent) => void,
): ProxySource | undefined {
  const { trustedProxies, proxyFormat } = options;
  if (proxyFormat === undefined) {
    for (const key of [
      'trustedProxies',
      'proxyHeaderNames',
      'maxProxyHeaderBytes',
      'maxProxyChainLength',
      'onUntrustedProxyHeaders',
      'envoyForwardClientCertDetails',
    ] as const) {
      if (options[key] !== undefined) {
        throw new TypeError(
          `${factory}: option "${key}" has no effect without "proxyFormat". Set proxyFormat to ` +
            `one of ${PROXY_FORMAT_NAMES.map((n) => JSON.stringify(n)).join(', ')}, or remove ${key}.`,
        );
      }
    }
    return undefined;
  }
  if (trustedProxies === undefined) {
    // Trusting forwarded-certificate headers from any peer lets every client choose its identity.
    throw new TypeError(
      `${factory}: option "proxyFormat" (${JSON.stringify(proxyFormat)}) needs "trustedProxies": ` +
        'the CIDRs of the proxies that may forward client certificates, e.g. ["10.0.0.0/8"].',
    );
  }
  const isTrusted = compileTrustedProxies(trustedProxies, `${factory}: option "trustedProxies"`);
  const envoyMode = options.envoyForwardClientCertDetails;
  if (envoyMode !== undefined) {
    if (proxyFormat !== 'envoy-xfcc') {
      throw new TypeError(
        `${factory}: option "envoyForwardClientCertDetails" only applies to proxyFormat "envoy-xfcc", ` +
          `not ${JSON.stringify(proxyFormat)}; remove it.`,
      );
    }
    const why = REFUSED_ENVOY_MODES[envoyMode];
    if (why !== undefined) {
      throw new TypeError(
        `${factory}: option "envoyForwardClientCertDetails" is ${JSON.stringify(envoyMode)}: ${why}. ` +
          'Configure Envoy with SANITIZE_SET (or APPEND_FORWARD) and set this option to match.',
      );
    }
  }
  const format: ProxyFormat = PROXY_FORMATS[proxyFormat];
  const roles: Record<string, string> = { ...format.headers };
  for (const [role, name] of Object.entries(options.proxyHeaderNames ?? {})) {
    if (!Object.hasOwn(format.headers, role) && !(format.optionalRoles ?? []).includes(role)) {
      const known = [...Object.keys(format.headers), ...(format.optionalRoles ?? [])];
      throw new TypeError(
        `${factory}: option "proxyHeaderNames" has role ${describeValue(role)}, which format ` +
          `"${proxyFormat}" does not read. Its roles: ${known.join(', ')}.`,
      );
    }
    roles[role] = name.toLowerCase();
  }
  const roleByName = new Map<string, string>();
  for (const [role, name] of Object.entries(roles)) {
    if (roleByName.has(name)) {
      throw new TypeError(
        `${factory}: option "proxyHeaderNames" gives roles "${roleByName.get(name)}" and "${role}" ` +
          `the same header ${JSON.stringify(name)}; give each role its own header.`,
      );
    }
    roleByName.set(name, role);
  }
  // Stripped from untrusted peers: the headers read, plus companions the proxy also sets (so later
  // code reading, say, X-Amzn-Mtls-Clientcert-Subject cannot be fooled either).
  const nameSet: ReadonlySet<string> = new Set([...roleByName.keys(), ...(format.companionHeaders ?? [])]);
  const nameLengths = new Set([...nameSet].map((name) => name.length));
  const maxBytes = options.maxProxyHeaderBytes ?? DEFAULT_MAX_PROXY_HEADER_BYTES;
  const limits = {
    maxChainLength: options.maxProxyChainLength ?? DEFAULT_MAX_PROXY_CHAIN_LENGTH,
    roles: new Set(Object.keys(roles)) as ReadonlySet<string>,
    envoyForwardClientCertDetails: (envoyMode ?? 'SANITIZE_SET') as EnvoyForwardClientCertDetails,
    certificate: (der: Uint8Array, trust: 'verified' | 'unverified') => certificates.get(der, trust),
  };
  const report =
    options.onUntrustedProxyHeaders === false
      ? undefined
      : (options.onUntrustedProxyHeaders ?? defaultUntrustedReport);
  const source = proxyFormat;
  const roleList = Object.keys(roles);
  const identities = new Map<string, PeerIdentity>();

  const failed = (reason: string, certificate?: PeerCertificate): PeerIdentity => failedIdentity(source, reason, certificate);
  const noCertificate = missingIdentity(source);
  const headerFailures = new Map<ProxyFailureReason, PeerIdentity>();
  const headerFailure = (reason: ProxyFailureReason): PeerIdentity => {
    let identity = headerFailures.get(reason);
    if (identity === undefined) headerFailures.set(reason, (identity = failed(reason)));
    return identity;
  };

  const toIdentity = (forwarded: ForwardedCertificate): PeerIdentity => {
    if (forwarded.kind === 'none') return noCertificate;
    let certificate: PeerCertificate | undefined;
    if (forwarded.der !== undefined) {
      try {
        certificate = certificates.get(forwarded.der, forwarded.kind === 'verified' ? 'verified' : 'unverified');
      } catch (error) {
        // The cache throws an MtlsError: a parse error, or a bound it enforces (certificate size).
        return failed(isMtlsError(error) ? error.code : 'ERR_MTLS_CERT_PARSE');
      }
    }
    if (forwarded.kind === 'failed') return failed(forwarded.reason, certificate);
    return verifiedIdentity(source, certificate);
  };

  const resolveTrusted = (req: IncomingMessage): PeerIdentity => {
    const raw = req.rawHeaders;
    let values: Record<string, string> | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (!nameLengths.has(name.length)) continue;
      const role = roleByName.get(name.toLowerCase());
      if (role === undefined) continue;
      values ??= {};
      // Node joins repeated lines with ", ", which could splice a client's value onto the
      // proxy's (an appending proxy); a repeat is refused rather than interpreted.
      if (Object.hasOwn(values, role)) return headerFailure('HEADER_REPEATED');
      const value = raw[i + 1]!;
      if (value.length > maxBytes) return headerFailure('HEADER_TOO_LARGE');
      values[role] = value;
    }
    if (values === undefined) return noCertificate;
    // Header values cannot contain "\n", so this key is unambiguous.
    let key = '';
    for (const role of roleList) key += `${values[role] ?? ''}\n`;
    const cached = identities.get(key);
    if (cached !== undefined) return cached;
    const present = values;
    let identity: PeerIdentity;
    try {
      // An empty value (nginx's $ssl_client_escaped_cert without a certificate) is absent; a
      // format with a configured verify header reads an absent one as PROXY_VERIFY_MISSING.
      identity = toIdentity(format.read((role) => present[role] || undefined, limits));
    } catch (error) {
      // A format throws ProxyHeaderError, or the cache's MtlsError for a certificate it reads.
      identity =
        error instanceof ProxyHeaderError
          ? headerFailure(error.reason)
          : isMtlsError(error)
            ? failed(error.code)
            : headerFailure('HEADER_INVALID');
    }
    if (identities.size >= HEADER_CACHE_SIZE) identities.delete(identities.keys().next().value!);
    identities.set(key, identity);
    return identity;
  };

  const reportUntrusted = (req: IncomingMessage): void => {
    const raw = req.rawHeaders;
    let present: string[] | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (!nameLengths.has(name.length)) continue;
      const lower = name.toLowerCase();
      if (nameSet.has(lower) && !(present ??= []).includes(lower)) present.push(lower);
    }
    if (present === undefined) return;
    removeNames([req.headers, req.headersDistinct], raw, nameSet);
    notify(req, present, false);
  };

  const notify = (req: IncomingMessage, present: string[], inTrailers: boolean): void => {
    if (report === undefined && observeUntrusted === undefined) return;
    const event: UntrustedProxyHeadersEvent = Object.freeze({
      remoteAddress: req.socket?.remoteAddress,
      format: proxyFormat,
      headers: Object.freeze(present),
      ...(inTrailers ? { trailers: true as const } : {}),
    });
    for (const hook of [observeUntrusted, report]) {
      try {
        hook?.(event);
      } catch {
        // A reporting hook must never break the request.
      }
    }
  };

  // Trailers arrive after the body, long after this middleware ran, and no proxy rewrites them
  // (Envoy's XFCC handling, nginx's proxy_set_header act on headers only): a copy of a certificate
  // header there is the client's, from any peer. It is removed when Node has parsed the trailers
  // (just before 'end', which app code listening later sees stripped) and reported. Only requests
  // that can carry trailers (chunked HTTP/1.1, HTTP/2) pay for the listener.
  const stripTrailers = (req: IncomingMessage): void => {
    try {
      const found = removeNames([req.trailers, req.trailersDistinct], req.rawTrailers, nameSet);
      if (found !== undefined) notify(req, found, true);
    } catch {
      // Never break the request from an 'end' listener.
    }
  };
  const watchTrailers = (req: IncomingMessage): void => {
    if (req.headers['transfer-encoding'] === undefined && req.httpVersionMajor !== 2) return;
    // A body parser that ran before this middleware has already received the whole message.
    if (req.complete) stripTrailers(req);
    else if (typeof req.once === 'function') req.once('end', () => stripTrailers(req));
  };

  return {
    format: proxyFormat,
    headerNames: Object.freeze([...nameSet]),
    isTrusted,
    resolve(req) {
      try {
        watchTrailers(req);
        if (isTrusted(req.socket?.remoteAddress)) return resolveTrusted(req);
        reportUntrusted(req);
      } catch {
        return headerFailure('HEADER_INVALID');
      }
      return fallback.resolve(req);
    },
  };
}
