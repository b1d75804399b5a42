/**
 * The `proxy` option of `mtlsIdentity()`: its types, its checks, and its resolution into the
 * configuration the proxy source reads requests with. Everything that can be decided from the
 * options is decided here, once, at factory time; a configuration that would trust forwarded
 * headers unsafely is refused with a `TypeError` that names the option and the fix.
 */
import type { EnvoyForwardClientCertDetails, ProxyFormat } from './formats/format.js';
import { PROXY_FORMATS } from './formats/index.js';
import {
  DEFAULT_MAX_PROXY_CHAIN_LENGTH,
  DEFAULT_MAX_PROXY_HEADER_BYTES,
  PROXY_CHAIN_LENGTH_RANGE,
  PROXY_HEADER_BYTES_RANGE,
} from './limits.js';
import { compileTrustedProxies, type TrustedProxyMatcher } from './trust.js';
import { describeValue, isIntegerInRange, isOneOf, optionGroup, type OptionGroup } from '../../internal/options.js';
import { PROXY_FORMAT_NAMES, type ProxyFormatName } from '../../identity/peer-identity.js';
import type { UntrustedProxyHeadersEvent } from '../../identity/untrusted-proxy-headers.js';

/** What every `proxy` option has, whatever the format. */
export interface CommonProxyOptions {
  /**
   * CIDRs (or single addresses) of the proxies allowed to forward client certificates, e.g.
   * `['127.0.0.1/32', '10.0.0.0/8', '::1']`. IPv4 entries also match IPv4-mapped IPv6 peers; an
   * IPv6 range that contains `::ffff:0:0/96` (such as `::/64`) is refused, since it would trust
   * every IPv4 peer. A link-local peer with a zone (`fe80::1%eth0`) matches only an entry with the
   * same zone. Required: there is no default, since trusting every peer would let any client
   * choose its identity.
   */
  readonly trustedProxies: readonly string[];
  /**
   * Header names per role, replacing the format's defaults (e.g. `{ cert: 'ssl-client-cert',
   * verify: 'ssl-client-verify' }` for ingress-nginx). Roles are listed per format in
   * docs/proxies.md. Default: the format's own names.
   */
  readonly headerNames?: Readonly<Record<string, string>>;
  /** Longest accepted header value, in bytes: an integer from 64 to 1048576. Default: `16384`. */
  readonly maxHeaderBytes?: number;
  /** Most certificates (or XFCC elements) one header may carry: an integer from 1 to 64. Default: `8`. */
  readonly maxChainLength?: number;
  /**
   * Called (guarded) when a request from an untrusted peer carried the format's headers, and when
   * any request's trailers carried them (`trailers: true`); they have already been removed.
   * `false` silences the report (the metric still counts). Default: one JSON line on
   * `process.stderr`.
   */
  readonly onUntrustedHeaders?: ((event: UntrustedProxyHeadersEvent) => void) | false;
}

/** `proxy` for Envoy's `x-forwarded-client-cert`. */
export interface EnvoyProxyOptions extends CommonProxyOptions {
  /** Read the client certificate from Envoy's `x-forwarded-client-cert` (when the peer is trusted). */
  readonly format: 'envoy-xfcc';
  /**
   * The nearest Envoy's `forward_client_cert_details`. `'SANITIZE_SET'` (recommended): the header
   * must be exactly one element, anything else is `FAILED:HEADER_INVALID`. `'APPEND_FORWARD'`
   * (Istio's sidecars): the rightmost element is read. Envoy's other modes pass on a client's
   * header and are refused. See docs/proxies.md. Default: `'SANITIZE_SET'`.
   */
  readonly forwardClientCertDetails?: EnvoyForwardClientCertDetails;
}

/** `proxy` for every format but `envoy-xfcc`. */
export interface HeaderProxyOptions extends CommonProxyOptions {
  /** Read the client certificate from this proxy's headers (when the peer is trusted). */
  readonly format: Exclude<ProxyFormatName, 'envoy-xfcc'>;
  /** Only for `format: 'envoy-xfcc'`. */
  readonly forwardClientCertDetails?: never;
}

/**
 * The `proxy` option of `mtlsIdentity()`: read the client certificate from a trusted proxy's
 * headers. Discriminated by `format`. Default: none (the identity comes from the TLS socket only,
 * and forwarded-certificate headers are never trusted).
 */
export type ProxyOptions = EnvoyProxyOptions | HeaderProxyOptions;

/** Envoy's `forward_client_cert_details` values, and why the unreadable ones are refused. */
const ENVOY_FORWARD_MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'];
const REFUSED_ENVOY_MODES: Readonly<Record<string, string>> = {
  SANITIZE: 'Envoy then removes x-forwarded-client-cert, so there is nothing to read',
  FORWARD_ONLY: 'Envoy then passes on the x-forwarded-client-cert its client sent, so any client could choose its identity',
  ALWAYS_FORWARD_ONLY: 'Envoy then passes on the x-forwarded-client-cert its client sent, even without mutual TLS, so any client could choose its identity',
};

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The checks of the `proxy` option (shape only; {@link resolveProxyOptions} checks meaning). */
export const PROXY_OPTIONS: OptionGroup = optionGroup<ProxyOptions>({
  expected: 'an object such as { format: "nginx", trustedProxies: ["10.0.0.0/8"] }',
  checks: {
    format: isOneOf(PROXY_FORMAT_NAMES),
    trustedProxies: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'string')
        ? undefined
        : 'a non-empty array of CIDR strings such as ["10.0.0.0/8", "::1"]',
    headerNames: (v) =>
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Object.values(v).every((name) => typeof name === 'string' && HEADER_NAME.test(name))
        ? undefined
        : 'an object mapping roles to header names, such as { cert: "ssl-client-cert" }',
    maxHeaderBytes: isIntegerInRange(PROXY_HEADER_BYTES_RANGE.min, PROXY_HEADER_BYTES_RANGE.max),
    maxChainLength: isIntegerInRange(PROXY_CHAIN_LENGTH_RANGE.min, PROXY_CHAIN_LENGTH_RANGE.max),
    onUntrustedHeaders: (v) => (typeof v === 'function' || v === false ? undefined : 'a function or false'),
    forwardClientCertDetails: isOneOf(ENVOY_FORWARD_MODES),
  },
  required: {
    format: `the proxy whose headers carry the client certificate, one of ${PROXY_FORMAT_NAMES.map((n) => JSON.stringify(n)).join(', ')}`,
    // Trusting forwarded-certificate headers from any peer lets every client choose its identity.
    trustedProxies: 'the CIDRs of the proxies that may forward client certificates, e.g. ["10.0.0.0/8"]',
  },
  onlyWhen: { forwardClientCertDetails: { key: 'format', values: ['envoy-xfcc'] } },
});

/** The resolved `proxy` option: what the source needs per request, nothing left to decide. */
export interface ProxyConfig {
  readonly formatName: ProxyFormatName;
  readonly format: ProxyFormat;
  readonly isTrusted: TrustedProxyMatcher;
  /** The role of each header read, by lowercase name. */
  readonly roleByName: ReadonlyMap<string, string>;
  /** Every role that has a header name, in a fixed order. */
  readonly roles: readonly string[];
  /** Lowercase names removed from untrusted peers: the headers read, and the format's companions. */
  readonly strippedNames: ReadonlySet<string>;
  /** The lengths of {@link strippedNames}, a cheap first test while scanning raw headers. */
  readonly nameLengths: ReadonlySet<number>;
  readonly maxHeaderBytes: number;
  readonly maxChainLength: number;
  readonly forwardClientCertDetails: EnvoyForwardClientCertDetails;
}

/**
 * Resolves an already shape-checked `proxy` option (see {@link PROXY_OPTIONS}). Throws a
 * `TypeError` naming `factory` and `path` for bad CIDRs, header roles the format does not read,
 * two roles on one header and Envoy modes whose header cannot be trusted.
 */
export function resolveProxyOptions(factory: string, options: ProxyOptions, path = 'proxy'): ProxyConfig {
  const isTrusted = compileTrustedProxies(options.trustedProxies, `${factory}: option "${path}.trustedProxies"`);
  const envoyMode = options.format === 'envoy-xfcc' ? options.forwardClientCertDetails : undefined;
  const why = envoyMode === undefined ? undefined : REFUSED_ENVOY_MODES[envoyMode];
  if (why !== undefined) {
    throw new TypeError(
      `${factory}: option "${path}.forwardClientCertDetails" is ${JSON.stringify(envoyMode)}: ${why}. ` +
        'Configure Envoy with SANITIZE_SET (or APPEND_FORWARD) and set this option to match.',
    );
  }
  const format: ProxyFormat = PROXY_FORMATS[options.format];
  const names: Record<string, string> = { ...format.headers };
  for (const [role, name] of Object.entries(options.headerNames ?? {})) {
    if (!Object.hasOwn(format.headers, role) && !(format.optionalRoles ?? []).includes(role)) {
      const known = [...Object.keys(format.headers), ...(format.optionalRoles ?? [])];
      throw new TypeError(
        `${factory}: option "${path}.headerNames" has role ${describeValue(role)}, which format ` +
          `"${options.format}" does not read. Its roles: ${known.join(', ')}.`,
      );
    }
    names[role] = name.toLowerCase();
  }
  const roleByName = new Map<string, string>();
  for (const [role, name] of Object.entries(names)) {
    if (roleByName.has(name)) {
      throw new TypeError(
        `${factory}: option "${path}.headerNames" gives roles "${roleByName.get(name)}" and "${role}" ` +
          `the same header ${JSON.stringify(name)}; give each role its own header.`,
      );
    }
    roleByName.set(name, role);
  }
  // Companions the proxy also sets are stripped too, so later code reading, say,
  // X-Amzn-Mtls-Clientcert-Subject cannot be fooled either.
  const strippedNames: ReadonlySet<string> = new Set([...roleByName.keys(), ...(format.companionHeaders ?? [])]);
  return {
    formatName: options.format,
    format,
    isTrusted,
    roleByName,
    roles: Object.keys(names),
    strippedNames,
    nameLengths: new Set([...strippedNames].map((name) => name.length)),
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_PROXY_HEADER_BYTES,
    maxChainLength: options.maxChainLength ?? DEFAULT_MAX_PROXY_CHAIN_LENGTH,
    forwardClientCertDetails: (envoyMode ?? 'SANITIZE_SET'),
  };
}
