/**
 * The peer identity and its verify vocabulary: the one place that says what `verify`, `reason`
 * and `source` can hold, and the only constructors of identities. Sources build identities here;
 * outputs read them. The vocabulary follows nginx's `$ssl_client_verify`.
 */
import { certificateJson, type PeerCertificateJson } from '../certificate/json.js';
import type { PeerCertificate } from '../certificate/peer-certificate.js';

/** `SUCCESS`, `NONE` (no certificate), or `FAILED:` followed by the reason. */
export type VerifyResult = 'SUCCESS' | 'NONE' | `FAILED:${string}`;

/** The forwarded-certificate formats a trusted proxy's headers can be read in (docs/proxies.md). */
export const PROXY_FORMAT_NAMES = ['envoy-xfcc', 'nginx', 'traefik', 'aws-alb', 'caddy', 'haproxy', 'cloudflare', 'rfc9440'] as const;

/** Name of a supported forwarded-certificate format. */
export type ProxyFormatName = (typeof PROXY_FORMAT_NAMES)[number];

/** `PeerIdentity.source` of identities read from the request's own TLS connection. */
export const TLS_SOURCE = 'tls';

/** Where an identity came from: the TLS connection, or the format of a trusted proxy's headers. */
export type IdentitySourceName = typeof TLS_SOURCE | ProxyFormatName;

/**
 * What `res.locals.mtls` holds, and what `getPeerIdentity(req)` returns. Frozen. `JSON.stringify`
 * writes its {@link PeerIdentityJson} (the certificate without its DER).
 */
export interface PeerIdentity {
  /** The chain was verified by Node's TLS layer, or by a trusted proxy that says so. */
  readonly verified: boolean;
  /** `SUCCESS` exactly when `verified`; `NONE` when no certificate was presented; else `FAILED:<reason>`. */
  readonly verify: VerifyResult;
  /** Why it is not verified: an OpenSSL code, one of {@link IDENTITY_REASONS}, a proxy reason or an `ERR_MTLS_*` code. */
  readonly reason?: string;
  /** `tls`, or the name of the proxy header format the identity came from. */
  readonly source: IdentitySourceName;
  /** Absent when no certificate was presented or it could not be parsed. */
  readonly certificate?: PeerCertificate;
}

/** `PeerIdentity.reason` values that are not OpenSSL's, a proxy format's or an `ERR_MTLS_*` code. */
export const IDENTITY_REASONS = {
  /** `NONE`: the client presented no certificate (Node itself reports `UNABLE_TO_GET_ISSUER_CERT` then). */
  certificateMissing: 'CERT_MISSING',
  /** `NONE`: the request did not arrive over TLS (plain HTTP), so there can be no client certificate. */
  notTls: 'NOT_TLS',
  /** `NONE`: the connection was already closed when the identity was first asked for. */
  connectionClosed: 'CONNECTION_CLOSED',
  /**
   * `FAILED`: a TLS 1.2 renegotiation was under way when the identity was read, so no certificate
   * on the connection is authenticated yet; the next request reads it again.
   */
  renegotiationInProgress: 'RENEGOTIATION_IN_PROGRESS',
  /** `FAILED`: the verifier rejected the client and gave no reason a code can carry. */
  unknown: 'UNKNOWN',
  /** `FAILED`: the identity source threw (a bug); the request still gets a recorded outcome. */
  sourceError: 'SOURCE_ERROR',
} as const;

const REASON_CODE = /^[A-Za-z0-9_]{1,64}$/;

/**
 * Whether `value` can be a reason as it is: a code of letters, digits and `_`, at most 64
 * characters. Reasons appear in log lines and metric attributes, so nothing else passes.
 */
export function isReasonCode(value: unknown): value is string {
  return typeof value === 'string' && REASON_CODE.test(value);
}

/** `reason` if it is a code ({@link isReasonCode}), else `fallback`. */
export function reasonCodeOr(reason: unknown, fallback: string): string {
  return isReasonCode(reason) ? reason : fallback;
}

/** The JSON form of a {@link PeerIdentity}: its fields, with the certificate as {@link PeerCertificateJson}. */
export interface PeerIdentityJson {
  readonly verified: boolean;
  readonly verify: VerifyResult;
  readonly reason?: string;
  readonly source: IdentitySourceName;
  readonly certificate?: PeerCertificateJson;
}

// Shared by every identity; reads the certificate's fields itself, so a certificate without its
// own `toJSON` (built by hand or by a custom parser) serialises the same.
function identityToJson(this: PeerIdentity): PeerIdentityJson {
  return {
    verified: this.verified,
    verify: this.verify,
    ...(this.reason === undefined ? {} : { reason: this.reason }),
    source: this.source,
    ...(this.certificate === undefined ? {} : { certificate: certificateJson(this.certificate) }),
  };
}

/**
 * `identity` frozen, with a non-enumerable `toJSON`: `assert.deepStrictEqual`, spreading and
 * `Object.keys` see the fields only.
 */
function frozenIdentity(identity: PeerIdentity): PeerIdentity {
  Object.defineProperty(identity, 'toJSON', { value: identityToJson, enumerable: false, writable: false, configurable: false });
  return Object.freeze(identity);
}

/** A verified identity. */
export function verifiedIdentity(source: IdentitySourceName, certificate?: PeerCertificate): PeerIdentity {
  return frozenIdentity(
    certificate === undefined
      ? { verified: true, verify: 'SUCCESS' as const, source }
      : { verified: true, verify: 'SUCCESS' as const, source, certificate },
  );
}

/** No certificate was presented (`verify: 'NONE'`); `reason` says how that is known. */
export function missingIdentity(source: IdentitySourceName, reason: string = IDENTITY_REASONS.certificateMissing): PeerIdentity {
  return frozenIdentity({ verified: false, verify: 'NONE' as const, reason: reasonCodeOr(reason, IDENTITY_REASONS.unknown), source });
}

/**
 * A certificate that failed (`verify: 'FAILED:<reason>'`), with the parsed certificate when there
 * is one. A `reason` that is not a code becomes `UNKNOWN`.
 */
export function failedIdentity(source: IdentitySourceName, reason: string, certificate?: PeerCertificate): PeerIdentity {
  const code = reasonCodeOr(reason, IDENTITY_REASONS.unknown);
  const verify: VerifyResult = `FAILED:${code}`;
  return frozenIdentity(
    certificate === undefined
      ? { verified: false, verify, reason: code, source }
      : { verified: false, verify, reason: code, source, certificate },
  );
}

/** `success`, `failed` or `none`: the verify result as a low-cardinality word (metrics). */
export function verifyOutcomeOf(identity: PeerIdentity): 'success' | 'failed' | 'none' {
  if (identity.verified) return 'success';
  return identity.verify === 'NONE' ? 'none' : 'failed';
}
