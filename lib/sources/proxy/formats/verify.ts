/**
 * A proxy's verification verdict, in the vocabulary of the TLS path. nginx (and Cloudflare's
 * `certVerified`) say `SUCCESS`, `NONE` or `FAILED:<X509_verify_cert_error_string>`; HAProxy's
 * `ssl_c_verify` is the numeric `X509_V_ERR_*` code. Both map to the code names Node reports as
 * `authorizationError` (`X509_V_ERR_` prefix dropped), so the same certificate gives the same
 * `reason` directly and through the proxy.
 */
import { ProxyHeaderError, type ForwardedCertificate, type FormatLimits } from './format.js';

/** A parsed verify header. */
export type VerifyVerdict =
  | { readonly kind: 'success' }
  | { readonly kind: 'none' }
  | { readonly kind: 'failed'; readonly reason: string };

// OpenSSL crypto/x509/x509_txt.c (X509_verify_cert_error_string) with the X509_V_ERR_* numbers
// of include/openssl/x509_vfy.h; Node's names from src/crypto/crypto_common.cc.
const OPENSSL_VERIFY_ERRORS: readonly (readonly [number, string, readonly string[]])[] = [
  [2, 'UNABLE_TO_GET_ISSUER_CERT', ['unable to get issuer certificate']],
  [3, 'UNABLE_TO_GET_CRL', ['unable to get certificate crl']],
  [4, 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', ["unable to decrypt certificate's signature"]],
  [5, 'UNABLE_TO_DECRYPT_CRL_SIGNATURE', ["unable to decrypt crl's signature"]],
  [6, 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', ['unable to decode issuer public key']],
  [7, 'CERT_SIGNATURE_FAILURE', ['certificate signature failure']],
  [8, 'CRL_SIGNATURE_FAILURE', ['crl signature failure']],
  [9, 'CERT_NOT_YET_VALID', ['certificate is not yet valid']],
  [10, 'CERT_HAS_EXPIRED', ['certificate has expired']],
  [11, 'CRL_NOT_YET_VALID', ['crl is not yet valid']],
  [12, 'CRL_HAS_EXPIRED', ['crl has expired']],
  [13, 'ERROR_IN_CERT_NOT_BEFORE_FIELD', ["format error in certificate's notbefore field"]],
  [14, 'ERROR_IN_CERT_NOT_AFTER_FIELD', ["format error in certificate's notafter field"]],
  [15, 'ERROR_IN_CRL_LAST_UPDATE_FIELD', ["format error in crl's lastupdate field"]],
  [16, 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', ["format error in crl's nextupdate field"]],
  [17, 'OUT_OF_MEM', ['out of memory']],
  // OpenSSL 3.0 writes "self-signed", 1.1 "self signed".
  [18, 'DEPTH_ZERO_SELF_SIGNED_CERT', ['self-signed certificate', 'self signed certificate']],
  [
    19,
    'SELF_SIGNED_CERT_IN_CHAIN',
    ['self-signed certificate in certificate chain', 'self signed certificate in certificate chain'],
  ],
  [20, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', ['unable to get local issuer certificate']],
  [21, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', ['unable to verify the first certificate']],
  [22, 'CERT_CHAIN_TOO_LONG', ['certificate chain too long']],
  [23, 'CERT_REVOKED', ['certificate revoked']],
  [24, 'INVALID_CA', ['invalid ca certificate']],
  [25, 'PATH_LENGTH_EXCEEDED', ['path length constraint exceeded']],
  // OpenSSL 3.0 writes "unsuitable", 1.1 "unsupported".
  [26, 'INVALID_PURPOSE', ['unsuitable certificate purpose', 'unsupported certificate purpose']],
  [27, 'CERT_UNTRUSTED', ['certificate not trusted']],
  [28, 'CERT_REJECTED', ['certificate rejected']],
  [62, 'HOSTNAME_MISMATCH', ['hostname mismatch']],
];

const BY_NUMBER = new Map(OPENSSL_VERIFY_ERRORS.map(([number, code]) => [number, code]));
const BY_TEXT = new Map(
  OPENSSL_VERIFY_ERRORS.flatMap(([, code, texts]) => texts.map((text) => [text, code] as const)),
);

/**
 * The Node code name for an OpenSSL verification error given as its number (HAProxy
 * `ssl_c_verify`) or its text (nginx `$ssl_client_verify`); `PROXY_VERIFY_FAILED` for anything
 * else, so a proxy cannot put free text into a low-cardinality reason.
 */
export function opensslVerifyReason(numberOrText: number | string): string {
  const code =
    typeof numberOrText === 'number'
      ? BY_NUMBER.get(numberOrText)
      : BY_TEXT.get(numberOrText.trim().toLowerCase());
  return code ?? 'PROXY_VERIFY_FAILED';
}

/**
 * Parses a verify header: `SUCCESS`, `NONE`, `FAILED`, `FAILED:<reason>` (nginx, Cloudflare
 * Workers' `certVerified`), a decimal `X509_V_ERR_*` number where `0` is success (HAProxy), or
 * `true` / `false` (a rules engine's boolean). Throws {@link ProxyHeaderError} with
 * `HEADER_INVALID` for anything else.
 */
export function parseVerifyValue(value: string): VerifyVerdict {
  const text = value.trim();
  // A boolean rendered by a rules engine (Cloudflare's `cf.tls_client_auth.cert_verified` field).
  if (text === 'SUCCESS' || text === 'true') return { kind: 'success' };
  if (text === 'false') return { kind: 'failed', reason: 'PROXY_VERIFY_FAILED' };
  if (text === 'NONE') return { kind: 'none' };
  // Before nginx 1.11.7 a failure was a bare FAILED.
  if (text === 'FAILED') return { kind: 'failed', reason: 'PROXY_VERIFY_FAILED' };
  if (text.startsWith('FAILED:')) {
    return { kind: 'failed', reason: opensslVerifyReason(text.slice('FAILED:'.length)) };
  }
  if (/^[0-9]{1,4}$/.test(text)) {
    const number = Number(text);
    return number === 0 ? { kind: 'success' } : { kind: 'failed', reason: opensslVerifyReason(number) };
  }
  throw new ProxyHeaderError('HEADER_INVALID', 'unrecognised verify header value');
}

/**
 * How to read a certificate the proxy forwarded without a verify header:
 * `verified` when the proxy only forwards certificates it verified (its documented setting),
 * `missing` when the verify header is required, `unverified` when the proxy never verifies.
 */
export type WithoutVerifyHeader = 'verified' | 'missing' | 'unverified';

/**
 * How a format whose verify header is optional reads a certificate without one: `verified` when
 * the deployment named no verify header, `missing` when it did (then an absent or empty verify
 * header is a failure, never a success: a proxy that forwards unverified certificates, such as
 * Cloudflare's `Client-Cert`, must not pass for one that verifies).
 */
export function optionalVerifyHeader(limits: FormatLimits): WithoutVerifyHeader {
  return limits.roles?.has('verify') === true ? 'missing' : 'verified';
}

/**
 * Combines a forwarded leaf (if any) with the proxy's verify header (if any; an empty one is
 * absent) into the outcome. Throws {@link ProxyHeaderError} when the verify header is malformed.
 */
export function forwardedOutcome(
  der: Uint8Array | undefined,
  verifyValue: string | undefined,
  withoutVerifyHeader: WithoutVerifyHeader,
): ForwardedCertificate {
  if (verifyValue !== undefined) {
    const verdict = parseVerifyValue(verifyValue);
    switch (verdict.kind) {
      // HAProxy's ssl_c_verify is 0 when no certificate was presented at all.
      case 'success':
        return der === undefined ? { kind: 'none' } : { kind: 'verified', der };
      case 'none':
        if (der !== undefined) {
          throw new ProxyHeaderError(
            'HEADER_INVALID',
            'the verify header says no certificate, but one was forwarded',
          );
        }
        return { kind: 'none' };
      case 'failed':
        return der === undefined
          ? { kind: 'failed', reason: verdict.reason }
          : { kind: 'failed', reason: verdict.reason, der };
    }
  }
  if (der === undefined) return { kind: 'none' };
  switch (withoutVerifyHeader) {
    case 'verified':
      return { kind: 'verified', der };
    case 'missing':
      return { kind: 'failed', reason: 'PROXY_VERIFY_MISSING', der };
    case 'unverified':
      return { kind: 'failed', reason: 'PROXY_UNVERIFIED', der };
  }
}
