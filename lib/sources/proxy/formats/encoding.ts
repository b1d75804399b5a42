/**
 * What every forwarded-certificate format shares: the format contract, the stable failure reasons,
 * and strict decoders (percent-encoding, base64, PEM, RFC 8941 byte sequences). Decoders throw a
 * {@link ProxyHeaderError} and nothing else, so the proxy source can turn any bad value into a
 * recorded outcome.
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
  readonly envoyForwardClientCertDetails?: EnvoyForwardClientCertDetails;
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

const HEX_DIGIT = /^[0-9A-Fa-f]$/;

/**
 * Strict percent-decoding (RFC 3986 section 2.1) to a byte string. `+` stays a plus: nginx's
 * `$ssl_client_escaped_cert`, Envoy and AWS ALB encode URI components, not forms. Only ASCII
 * results are accepted, since every format percent-encodes PEM.
 */
export function percentDecode(value: string): string {
  if (!value.includes('%')) {
    assertAscii(value);
    return value;
  }
  let out = '';
  let start = 0;
  for (let i = value.indexOf('%'); i !== -1; i = value.indexOf('%', start)) {
    const high = value[i + 1];
    const low = value[i + 2];
    if (high === undefined || low === undefined || !HEX_DIGIT.test(high) || !HEX_DIGIT.test(low)) {
      throw new ProxyHeaderError('HEADER_INVALID', 'invalid percent-encoding');
    }
    out += value.slice(start, i) + String.fromCharCode(parseInt(high + low, 16));
    start = i + 3;
  }
  out += value.slice(start);
  assertAscii(out);
  return out;
}

function assertAscii(text: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[^\x09\x0A\x0D\x20-\x7E]/.test(text)) {
    throw new ProxyHeaderError('HEADER_INVALID', 'forwarded certificate text is not ASCII');
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Strict base64 (RFC 4648 section 4) to bytes: only the base64 alphabet, padding optional (RFC 8941
 * section 3.3.5 asks parsers to accept missing padding), no whitespace, not empty.
 */
export function decodeBase64(text: string): Uint8Array {
  if (text.length === 0 || !BASE64.test(text)) {
    throw new ProxyHeaderError('HEADER_INVALID', 'invalid base64');
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/**
 * Every certificate of a PEM text, in order (leaf first). Anything but whitespace outside the
 * `CERTIFICATE` blocks is refused, and so is a chain longer than `maxChainLength`.
 */
export function pemCertificates(text: string, maxChainLength: number): Uint8Array[] {
  // Count first: it bounds the regular expression's work on hostile input to the chain limit.
  if (text.split('-----BEGIN').length - 1 > maxChainLength) {
    throw new ProxyHeaderError(
      'HEADER_CHAIN_TOO_LONG',
      `more than ${maxChainLength} certificates in one header`,
    );
  }
  const certificates: Uint8Array[] = [];
  let end = 0;
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (text.slice(end, match.index).trim() !== '') {
      throw new ProxyHeaderError('HEADER_INVALID', 'unexpected text around PEM certificates');
    }
    if (certificates.length === maxChainLength) {
      throw new ProxyHeaderError(
        'HEADER_CHAIN_TOO_LONG',
        `more than ${maxChainLength} certificates in one header`,
      );
    }
    certificates.push(decodeBase64(match[1]!.replace(/\s+/g, '')));
    end = match.index + match[0].length;
  }
  if (certificates.length === 0 || text.slice(end).trim() !== '') {
    throw new ProxyHeaderError('HEADER_INVALID', 'not a PEM certificate');
  }
  return certificates;
}

/** Percent-encoded PEM (nginx, Envoy `Cert`, AWS ALB) to the DER of each certificate. */
export function percentEncodedPemCertificates(value: string, maxChainLength: number): Uint8Array[] {
  return pemCertificates(percentDecode(value), maxChainLength);
}

// RFC 8941 section 3.1.2: parameters after an item. RFC 9440 defines none, so they are skipped;
// quoted-string parameter values are refused, which keeps list members free of commas.
const SF_PARAMETERS = /(?:;[ ]*[a-z*][a-z0-9_\-.*]*(?:=[^;,"\s]*)?)*/;
const SF_BYTE_SEQUENCE = new RegExp(`^:([A-Za-z0-9+/=]*):(${SF_PARAMETERS.source})$`);

/** An RFC 8941 section 3.3.5 Byte Sequence item (`:base64:`, parameters ignored) to bytes. */
export function decodeSfByteSequence(text: string): Uint8Array {
  const match = SF_BYTE_SEQUENCE.exec(text.trim());
  if (match === null) {
    throw new ProxyHeaderError('HEADER_INVALID', 'not a structured-field byte sequence');
  }
  return decodeBase64(match[1]!);
}

/**
 * An RFC 8941 section 3.1 List of Byte Sequences (RFC 9440 `Client-Cert-Chain`) to bytes, refusing
 * more than `maxChainLength` members.
 */
export function decodeSfByteSequenceList(text: string, maxChainLength: number): Uint8Array[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  // Neither byte sequences nor the parameters accepted here contain commas, so splitting is exact;
  // each member is then checked in full.
  const members = trimmed.split(',');
  if (members.length > maxChainLength) {
    throw new ProxyHeaderError(
      'HEADER_CHAIN_TOO_LONG',
      `more than ${maxChainLength} certificates in one header`,
    );
  }
  return members.map((member) => decodeSfByteSequence(member));
}
