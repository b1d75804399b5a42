/**
 * Typed errors with stable `ERR_MTLS_*` codes. Programmer mistakes at factory time are plain
 * `TypeError`s; bad data (certificates, headers) is an {@link MtlsError}.
 */

/** Every code an {@link MtlsError} can carry. Codes are stable; messages are not. */
export const MTLS_ERROR_CODES = [
  /** The input is not a well-formed X.509 certificate (DER or PEM). */
  'ERR_MTLS_CERT_PARSE',
  /** The certificate is larger than the configured maximum; it was not parsed. */
  'ERR_MTLS_CERT_TOO_LARGE',
  /** A forwarded client-certificate header could not be decoded or is not acceptable. */
  'ERR_MTLS_HEADER_INVALID',
  /** A request without a client certificate (`verify: 'NONE'`) was rejected by `require`. */
  'ERR_MTLS_CLIENT_CERT_REQUIRED',
  /** A request whose client certificate failed verification was rejected by `require`. */
  'ERR_MTLS_CLIENT_CERT_INVALID',
  /** A request whose verified client identity is not listed by `expected` was rejected (`mode: 'enforce'`). */
  'ERR_MTLS_CLIENT_NOT_ALLOWED',
] as const;

export type MtlsErrorCode = (typeof MTLS_ERROR_CODES)[number];

const MTLS_ERROR_BRAND = Symbol.for('mtls-observability.MtlsError');

/** An error about bad data. `code` is stable; `cause` holds the underlying failure, if any. */
export class MtlsError extends Error {
  override readonly name: string = 'MtlsError';
  readonly code: MtlsErrorCode;

  constructor(code: MtlsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** Survives copies of the library loaded twice (ESM and CommonJS, two versions). */
  get [MTLS_ERROR_BRAND](): true {
    return true;
  }
}

/** The codes a {@link CertificateParseError} carries. */
export type CertificateErrorCode = Extract<MtlsErrorCode, 'ERR_MTLS_CERT_PARSE' | 'ERR_MTLS_CERT_TOO_LARGE'>;

/**
 * The certificate could not be parsed (`ERR_MTLS_CERT_PARSE`), or was refused unparsed
 * ({@link CertificateTooLargeError}, `ERR_MTLS_CERT_TOO_LARGE`).
 */
export class CertificateParseError extends MtlsError {
  override readonly name: string = 'CertificateParseError';
  declare readonly code: CertificateErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    // The code follows the class, so no caller can build a parse error that claims another code.
    const tooLarge = (new.target as unknown) === CertificateTooLargeError || new.target.prototype instanceof CertificateTooLargeError;
    super(tooLarge ? 'ERR_MTLS_CERT_TOO_LARGE' : 'ERR_MTLS_CERT_PARSE', message, options);
  }
}

/**
 * The certificate is larger than the limit (`maxBytes` of `parseCertificate`,
 * `maxCertificateBytes` of the certificate cache and the middleware) and was not parsed. A
 * subclass of {@link CertificateParseError}, so code that handles "this certificate cannot be
 * used" keeps working; `code` tells the two apart.
 */
export class CertificateTooLargeError extends CertificateParseError {
  override readonly name = 'CertificateTooLargeError';
  /** Size of the certificate's DER (of the decoded body, for PEM input). */
  readonly bytes: number;
  /** The limit it exceeded. */
  readonly maxBytes: number;

  constructor(bytes: number, maxBytes: number) {
    super(`certificate of ${bytes} bytes exceeds the limit of ${maxBytes} bytes; it was not parsed`);
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * True for an {@link MtlsError} from any copy of this library. Checks a brand and the code, not
 * `instanceof` alone, so it works across duplicated installs and realms.
 */
export function isMtlsError(value: unknown): value is MtlsError {
  if (value instanceof MtlsError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { [MTLS_ERROR_BRAND]?: unknown; code?: unknown };
  return (
    candidate[MTLS_ERROR_BRAND] === true &&
    typeof candidate.code === 'string' &&
    (MTLS_ERROR_CODES as readonly string[]).includes(candidate.code)
  );
}
