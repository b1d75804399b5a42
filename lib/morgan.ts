/**
 * morgan tokens and formats for the peer identity, registered on the app's own morgan instance
 * (a bundled copy would crash the app's formats, research E.2). Tokens read the identity attached
 * to the request, never the socket: morgan runs after the response, when the socket may be gone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isBoolean, validateOptions } from './options.js';
import { peekPeerIdentity } from './peer-identity.js';
import { processWideKey } from './process-wide.js';
import type { PeerCertificate, PeerIdentity } from './types.js';

/** A morgan token function. */
export type MorganTokenFunction = (req: IncomingMessage, res: ServerResponse, arg?: string | number | boolean) => string | undefined;

/** A morgan format function; `tokens` is the morgan instance. */
export type MorganFormatFunction = (tokens: unknown, req: IncomingMessage, res: ServerResponse) => string | undefined | null;

/** The parts of the `morgan` module used here (morgan 1.10 to 1.12). */
export interface MorganLike {
  token(name: string, fn: MorganTokenFunction): unknown;
  format(name: string, format: string | MorganFormatFunction): unknown;
  /** morgan's format-string compiler; without it `mtls-combined` is registered as its string. */
  compile?(format: string): (tokens: never, req: never, res: never) => unknown;
}

/** Options of {@link registerMorganTokens}. */
export interface RegisterMorganTokensOptions {
  /** Also register the `mtls-combined` and `mtls-json` formats. Default: `true`. */
  readonly formats?: boolean;
}

/**
 * Token names and what they print. Every value is safe inside a quoted field of a text log line
 * on every morgan version: distinguished names keep their RFC 4514 escapes (`\"`, `\\`, control
 * characters as `\0A`), and URIs and verify results are percent-encoded where a character is not
 * allowed in a URI.
 */
export const MORGAN_TOKEN_NAMES = [
  'peer_cert_subject',
  'peer_cert_issuer',
  'peer_cert_serial',
  'peer_cert_fingerprint',
  'peer_cert_verify',
  'peer_cert_not_after',
  'peer_cert_spiffe',
] as const;

/** morgan's `combined`: the request part of `mtls-combined`. */
const COMBINED_PART =
  ':remote-addr - :remote-user [:date[clf]] ":method :url HTTP/:http-version" :status :res[content-length]' +
  ' ":referrer" ":user-agent"';

/** The identity part of `mtls-combined`. */
const IDENTITY_PART =
  'verify=:peer_cert_verify subject=":peer_cert_subject" issuer=":peer_cert_issuer" serial=:peer_cert_serial' +
  ' not_after=:peer_cert_not_after spiffe=:peer_cert_spiffe fingerprint=:peer_cert_fingerprint';

/** `combined` followed by the identity fields; absent values print `-`. */
export const MTLS_COMBINED_FORMAT = `${COMBINED_PART} ${IDENTITY_PART}`;

/** The names {@link registerMorganTokens} registers formats under. */
export const MORGAN_FORMAT_NAMES = ['mtls-combined', 'mtls-json'] as const;

type TokenName = (typeof MORGAN_TOKEN_NAMES)[number];
/** The certificate's token values (`peer_cert_verify` comes from the identity). */
type CertificateFields = { readonly [K in Exclude<TokenName, 'peer_cert_verify'>]: string | undefined };

const NO_CERTIFICATE_FIELDS: CertificateFields = Object.freeze({
  peer_cert_subject: undefined,
  peer_cert_issuer: undefined,
  peer_cert_serial: undefined,
  peer_cert_fingerprint: undefined,
  peer_cert_not_after: undefined,
  peer_cert_spiffe: undefined,
});

// A certificate's fields are computed once and shared by every connection that presents it (the
// certificate cache hands out one object). Nothing is cached per identity: with a new connection
// per request, a per-identity entry would be one more short-lived WeakMap key per connection.
const certificateFieldsCache = new WeakMap<PeerCertificate, CertificateFields>();

function certificateFieldsOf(certificate: PeerCertificate | undefined): CertificateFields {
  if (certificate === undefined) return NO_CERTIFICATE_FIELDS;
  let fields = certificateFieldsCache.get(certificate);
  if (fields === undefined) {
    fields = {
      peer_cert_subject: hexEscapeInvisible(certificate.subject),
      peer_cert_issuer: hexEscapeInvisible(certificate.issuer),
      peer_cert_serial: percentEncodeUnsafe(certificate.serialNumber),
      peer_cert_fingerprint: percentEncodeUnsafe(certificate.fingerprint256),
      peer_cert_not_after: isoDate(certificate.notAfter),
      peer_cert_spiffe: certificate.spiffeId === undefined ? undefined : percentEncodeUnsafe(certificate.spiffeId),
    };
    certificateFieldsCache.set(certificate, fields);
  }
  return fields;
}

// `verify` takes few distinct values (SUCCESS, NONE, FAILED:<code>); their encodings are kept, a bounded number.
const MAX_VERIFY_VALUES = 256;
const verifyFields = new Map<string, string>();

function verifyFieldOf(verify: string): string {
  let field = verifyFields.get(verify);
  if (field === undefined) {
    field = percentEncodeUnsafe(verify);
    if (verifyFields.size < MAX_VERIFY_VALUES) verifyFields.set(verify, field);
  }
  return field;
}

function isoDate(date: Date): string | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

// DESIGN section 3: control, line-separator, bidi and zero-width characters as `\XX` per UTF-8
// byte. parseCertificate already writes names this way; this keeps a log line single and visible
// whatever produced the identity.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

function hexEscapeInvisible(value: string): string {
  INVISIBLE.lastIndex = 0;
  if (!INVISIBLE.test(value)) return value;
  return value.replace(INVISIBLE, (ch) =>
    Array.from(Buffer.from(ch, 'utf8'), (byte) => `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

// Characters never allowed in a URI (RFC 3986 section 2): controls, space, `"`, `<`, `>`, `\`,
// `^`, backquote, `{`, `|`, `}` and everything outside ASCII. `%` stays, so an already encoded URI
// is not encoded twice.
// eslint-disable-next-line no-control-regex
const NOT_URI_SAFE = /[^\u0021\u0023-\u003b\u003d\u003f-\u005b\u005d\u005f\u0061-\u007a\u007e]/u;
// eslint-disable-next-line no-control-regex
const NOT_URI_SAFE_GLOBAL = /[^\u0021\u0023-\u003b\u003d\u003f-\u005b\u005d\u005f\u0061-\u007a\u007e]/gu;

function percentEncodeUnsafe(value: string): string {
  if (!NOT_URI_SAFE.test(value)) return value;
  return value.replace(NOT_URI_SAFE_GLOBAL, (ch) =>
    Array.from(Buffer.from(ch, 'utf8'), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

function tokenFor(name: TokenName): MorganTokenFunction {
  if (name === 'peer_cert_verify') {
    return (req) => {
      const identity = peekPeerIdentity(req);
      return identity === undefined ? undefined : verifyFieldOf(identity.verify);
    };
  }
  return (req) => {
    const identity = peekPeerIdentity(req);
    return identity === undefined ? undefined : certificateFieldsOf(identity.certificate)[name];
  };
}

// JSON.stringify leaves U+007F-U+009F, line separators and invisible characters raw; some log
// pipelines split lines on them (U+0085, U+2028). As \uXXXX escapes they parse to the same value.
const JSON_UNSAFE = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

function stringifyLogSafe(value: object): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

interface MorganRequestState {
  readonly _startAt?: [number, number];
  readonly _remoteAddress?: string;
  readonly ip?: string;
  readonly originalUrl?: string;
}

function responseTimeMs(req: IncomingMessage, res: ServerResponse): number | undefined {
  const start = (req as MorganRequestState)._startAt;
  const end = (res as { _startAt?: [number, number] })._startAt;
  if (!Array.isArray(start) || !Array.isArray(end)) return undefined;
  const ms = (end[0] - start[0]) * 1e3 + (end[1] - start[1]) * 1e-6;
  return Number(ms.toFixed(3));
}

function contentLength(res: ServerResponse): number | undefined {
  const value = res.getHeader('content-length');
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The `mtls-json` format: one JSON object per line with the request fields of `combined` and the
 * identity. Values are read directly, not through tokens: morgan 1.12 escapes token output, and
 * `JSON.stringify` would escape it a second time (research E.3). Absent values are left out.
 */
export function mtlsJsonFormat(_tokens: unknown, req: IncomingMessage, res: ServerResponse): string {
  const state = req as IncomingMessage & MorganRequestState;
  const identity = peekPeerIdentity(req);
  const certificate = identity?.certificate;
  const referrer = req.headers.referer ?? req.headers.referrer;
  return stringifyLogSafe({
    time: new Date().toISOString(),
    remote_addr: state.ip ?? state._remoteAddress ?? req.socket?.remoteAddress,
    method: req.method,
    url: state.originalUrl ?? req.url,
    http_version: `${req.httpVersionMajor}.${req.httpVersionMinor}`,
    status: res.headersSent ? res.statusCode : undefined,
    content_length: contentLength(res),
    referrer: typeof referrer === 'string' ? referrer : undefined,
    user_agent: req.headers['user-agent'],
    response_time_ms: responseTimeMs(req, res),
    peer_cert_verify: identity?.verify,
    peer_cert_reason: identity?.reason,
    peer_cert_source: identity?.source,
    peer_cert_subject: certificate?.subject,
    peer_cert_issuer: certificate?.issuer,
    peer_cert_serial: certificate?.serialNumber,
    peer_cert_fingerprint: certificate?.fingerprint256,
    peer_cert_not_after: certificate && isoDate(certificate.notAfter),
    peer_cert_spiffe: certificate?.spiffeId,
  });
}

// Distinct verify results without a certificate (NONE, FAILED:<code>) whose identity part is kept.
const MAX_UNCERTIFIED_PARTS = 256;

/**
 * `mtls-combined` as a format function: the very line morgan compiles from
 * {@link MTLS_COMBINED_FORMAT}, through the same morgan, so each version escapes it as its own
 * tokens would. The identity part depends only on the certificate and the verify result, so it is
 * formatted once per pair and kept, not rebuilt from seven escaped tokens on every request
 * (morgan 1.12's escaping and the seven token calls were about a third of what the identity
 * tokens cost a keep-alive request: docs/performance.md).
 */
function mtlsCombinedFormat(compile: (format: string) => MorganFormatFunction): MorganFormatFunction {
  const requestPart = compile(COMBINED_PART);
  const identityPart = compile(IDENTITY_PART);
  // One slot per certificate: its verify result rarely changes, and a changed one is re-formatted.
  const byCertificate = new WeakMap<PeerCertificate, { readonly verify: string; readonly part: string }>();
  const withoutCertificate = new Map<string, string>();
  let withoutIdentity: string | undefined;

  return (tokens, req, res) => {
    const start = requestPart(tokens, req, res);
    const identity = peekPeerIdentity(req);
    let part: string | undefined;
    if (identity === undefined) {
      part = withoutIdentity ??= String(identityPart(tokens, req, res));
    } else if (identity.certificate !== undefined) {
      const kept = byCertificate.get(identity.certificate);
      if (kept !== undefined && kept.verify === identity.verify) {
        part = kept.part;
      } else {
        part = String(identityPart(tokens, req, res));
        byCertificate.set(identity.certificate, { verify: identity.verify, part });
      }
    } else {
      part = withoutCertificate.get(identity.verify);
      if (part === undefined) {
        part = String(identityPart(tokens, req, res));
        if (withoutCertificate.size < MAX_UNCERTIFIED_PARTS) withoutCertificate.set(identity.verify, part);
      }
    }
    return `${start} ${part}`;
  };
}

// Versioned like the shared identity state: tokens of a copy with another state version read
// identities this copy does not write, so they are not taken for this copy's own.
const REGISTERED = processWideKey('morganRegistered');

/**
 * Registers the `peer_cert_*` tokens (and, unless `formats: false`, the `mtls-combined` and
 * `mtls-json` formats) on the app's own morgan. Calling it again on the same morgan is a no-op
 * for what it registered before. Tokens print `-` until `mtlsIdentity()` (or `getPeerIdentity`)
 * ran for the request.
 *
 * @returns the same morgan, for chaining.
 * @throws {TypeError} when `morgan` is not the morgan module, for bad options, and when a token
 *   or format of the same name already exists (nothing is registered then). Tokens and formats
 *   share morgan's namespace with its own members (`compile`, `format`, `token`).
 */
export function registerMorganTokens<M extends MorganLike>(morgan: M, options?: RegisterMorganTokensOptions): M {
  const candidate: unknown = morgan;
  if (
    typeof candidate !== 'function' ||
    typeof (candidate as Partial<MorganLike>).token !== 'function' ||
    typeof (candidate as Partial<MorganLike>).format !== 'function'
  ) {
    throw new TypeError(
      'registerMorganTokens(): the first argument must be the morgan module (import morgan from "morgan"; registerMorganTokens(morgan)).',
    );
  }
  const o = validateOptions<RegisterMorganTokensOptions>('registerMorganTokens()', options, { formats: isBoolean });
  const target = morgan as unknown as Record<string | symbol, unknown>;
  const ours = (target[REGISTERED] as Set<string> | undefined) ?? new Set<string>();
  const names: string[] = [...MORGAN_TOKEN_NAMES, ...(o.formats === false ? [] : MORGAN_FORMAT_NAMES)];
  for (const name of names) {
    if (name in target && !ours.has(name)) {
      throw new TypeError(
        `registerMorganTokens(): morgan already has a token or format named "${name}"; ` +
          'refusing to overwrite it. Remove the other definition (another copy of mtls-observability ' +
          'with a different state version also registers these names) or register on a morgan instance without it.',
      );
    }
  }
  for (const name of MORGAN_TOKEN_NAMES) {
    if (!ours.has(name)) morgan.token(name, tokenFor(name));
    ours.add(name);
  }
  if (o.formats !== false) {
    if (!ours.has('mtls-combined')) {
      const compile = morgan.compile;
      morgan.format(
        'mtls-combined',
        typeof compile === 'function'
          ? mtlsCombinedFormat((format) => compile.call(morgan, format) as MorganFormatFunction)
          : MTLS_COMBINED_FORMAT,
      );
    }
    if (!ours.has('mtls-json')) morgan.format('mtls-json', mtlsJsonFormat);
    for (const name of MORGAN_FORMAT_NAMES) ours.add(name);
  }
  if (target[REGISTERED] === undefined) {
    Object.defineProperty(morgan, REGISTERED, { value: ours, enumerable: false });
  }
  return morgan;
}
