/**
 * The contract every forwarded-certificate format implements, and the stable failure reasons a
 * format reports through {@link ProxyHeaderError}: a format throws that error and nothing else, so
 * the proxy source can turn any bad value into a recorded outcome.
 */
import { MtlsError } from '../../../errors.js';
import type { CertificateTrust } from '../../../certificate/cache.js';
import type { PeerCertificate } from '../../../certificate/peer-certificate.js';

/**
 * Stable reasons for a forwarded header that was not accepted. They appear as
 * `PeerIdentity.reason` and in `verify` as `FAILED:<reason>`.
 */
export const PROXY_FAILURE_REASONS = [
  /** A certificate header arrived on more than one header line (possible smuggling). */
  'HEADER_REPEATED',
  /** A header value is longer than `maxHeaderBytes`. */
  'HEADER_TOO_LARGE',
  /** More certificates or XFCC elements than `maxChainLength`. */
  'HEADER_CHAIN_TOO_LONG',
  /** A header value could not be decoded (bad percent-encoding, base64, PEM or XFCC grammar). */
  'HEADER_INVALID',
  /** The format needs the proxy's verify header (nginx, HAProxy, Cloudflare) and it was absent. */
  'PROXY_VERIFY_MISSING',
  /** The proxy forwards certificates it did not verify (AWS ALB passthrough) and nothing says it did. */
  'PROXY_UNVERIFIED',
  /** The proxy reported a failure whose reason is not a known OpenSSL verification error. */
  'PROXY_VERIFY_FAILED',
  /** The hash the proxy sent (XFCC `Hash`, `Cf-Client-Cert-Sha256`) is not the certificate's. */
  'CERT_HASH_MISMATCH',
] as const;

/** One of {@link PROXY_FAILURE_REASONS}. */
export type ProxyFailureReason = (typeof PROXY_FAILURE_REASONS)[number];

/** A forwarded header value that is not acceptable. `reason` is the stable outcome to record. */
export class ProxyHeaderError extends MtlsError {
  override readonly name = 'ProxyHeaderError';
  readonly reason: ProxyFailureReason;
  constructor(reason: ProxyFailureReason, message: string, options?: { cause?: unknown }) {
    super('ERR_MTLS_HEADER_INVALID', message, options);
    this.reason = reason;
  }
}

/** What a format read from the headers of one request from a trusted proxy. */
export type ForwardedCertificate =
  /** The proxy says no certificate was presented. */
  | { readonly kind: 'none' }
  /** The proxy verified the client; `der` is absent when it forwarded only other fields (XFCC). */
  | { readonly kind: 'verified'; readonly der?: Uint8Array }
  /** The proxy did not verify the client, or verification failed; `reason` says why. */
  | { readonly kind: 'failed'; readonly reason: string; readonly der?: Uint8Array };

/** What a format reads with, resolved at factory time. */
export interface FormatLimits {
  /** Most certificates (or XFCC elements) one header may carry. */
  readonly maxChainLength: number;
  /**
   * The roles that have a header name: the format's own plus optional ones the deployment named
   * (a `verify` header for Caddy, Traefik, RFC 9440). Default: the format's `headers` roles.
   */
  readonly roles?: ReadonlySet<string>;
  /**
   * How the nearest Envoy writes `x-forwarded-client-cert` (its `forward_client_cert_details`):
   * `SANITIZE_SET`, exactly one element, or `APPEND_FORWARD`, elements appended. Default:
   * `'SANITIZE_SET'`.
   */
  readonly forwardClientCertDetails?: EnvoyForwardClientCertDetails;
  /**
   * Parses a forwarded certificate (the proxy source's certificate cache), for formats that
   * check the header's other fields against it. Throws for DER it cannot accept. Default:
   * `parseCertificate`.
   */
  readonly certificate?: (der: Uint8Array, trust: CertificateTrust) => PeerCertificate;
}

/** The Envoy `forward_client_cert_details` modes whose header the `envoy-xfcc` format can read. */
export type EnvoyForwardClientCertDetails = 'SANITIZE_SET' | 'APPEND_FORWARD';

/**
 * One forwarded-certificate format. `headers` maps roles (`cert`, `verify`, `chain`, ...) to the
 * lowercase header names the format reads by default; all of them are stripped from untrusted peers.
 */
export interface ProxyFormat {
  readonly name: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Roles that may be given a header name although the format has none by default. */
  readonly optionalRoles?: readonly string[];
  /**
   * Other headers the proxy sets about the client certificate. Not read, but stripped from
   * untrusted peers like the ones read.
   */
  readonly companionHeaders?: readonly string[];
  /**
   * Reads one request's values (looked up by role; repeats and sizes are already checked).
   * Throws only {@link ProxyHeaderError}.
   */
  read(header: (role: string) => string | undefined, limits: FormatLimits): ForwardedCertificate;
}
