/**
 * morgan tokens and formats for the peer identity, registered on the app's own morgan instance
 * (a format that names a token missing from the app's morgan throws inside morgan and crashes the
 * process). Tokens read the identity attached to the request, never the socket: morgan runs after
 * the response, when the socket may be gone.
 *
 * The formats read the request through morgan's public API only: the `tokens` a format function
 * receives (`tokens['remote-addr'](req, res)`, `tokens['response-time'](req, res)`, ...), never
 * morgan's private request state. morgan 1.12 escapes every token's string output for text lines
 * and 1.10 does not; which one runs is asked of the morgan itself (its `:req[header]` token is
 * given a backslash), not of a version number. `mtls-combined` keeps 1.12's escaping and applies
 * it on 1.10 too; `mtls-json` undoes it before JSON escapes the value, because 1.12's escapes are
 * a JSON string's own and would otherwise be escaped twice.
 *
 * The identity's values (tokens and `mtls-json` members) are built by identity-fields.ts, the one
 * owner of those fields, log-safe and bounded once per certificate.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logUnsafePatternWith, replaceLogUnsafe, stringifyLogSafe, unicodeEscapeCharacter } from '../internal/log-safe.js';
import { logDate } from '../internal/log-date.js';
import { isBoolean, validateOptions } from '../internal/options.js';
import { peekPeerIdentity } from '../identity/registry.js';
import { processWideKey } from '../internal/process-wide.js';
import {
  certificateFieldsOf,
  identityJsonMembers,
  MORGAN_TOKEN_NAMES,
  verifyFieldOf,
  type MorganTokenName,
} from './identity-fields.js';
import type { PeerCertificate } from '../certificate/peer-certificate.js';

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

function tokenFor(name: MorganTokenName): MorganTokenFunction {
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

/** The morgan instance a format function receives: its tokens by name. */
type TokenTable = Readonly<Record<string | symbol, unknown>>;

/** The value of token `name`, called as morgan's compiled formats call it; `undefined` when morgan has no such token. */
function tokenValue(tokens: TokenTable, name: string, req: IncomingMessage, res: ServerResponse, arg?: string): unknown {
  const fn = tokens[name];
  return typeof fn === 'function' ? (fn as MorganTokenFunction).call(tokens, req, res, arg) : undefined;
}

// Whether a morgan escapes its tokens' output is asked of the morgan itself, not of its version
// number: its `:req[header]` token is given a header holding one backslash.
const PROBE_HEADER = 'x-mtls-observability-probe';
const PROBE_REQUEST = { headers: { [PROBE_HEADER]: '\\' } } as unknown as IncomingMessage;
const escapingMorgans = new WeakMap<object, boolean>();

/**
 * Whether `morgan` escapes token output (1.12 does, 1.10 does not). Unless its `:req` token
 * returns the probe's backslash as it is, escaping is assumed: the worst a wrong guess does then
 * is read a backslash sequence as its escape, which still prints log-safe.
 */
function escapesTokenOutput(morgan: object): boolean {
  let escapes = escapingMorgans.get(morgan);
  if (escapes === undefined) {
    let probe: unknown;
    try {
      probe = tokenValue(morgan as TokenTable, 'req', PROBE_REQUEST, {} as ServerResponse, PROBE_HEADER);
    } catch {
      probe = undefined;
    }
    escapes = probe !== '\\';
    escapingMorgans.set(morgan, escapes);
  }
  return escapes;
}

/**
 * A token's value as the token function produced it. morgan 1.12 escapes string output with
 * `\\`, `\"`, `\n`-style and `\uXXXX` escapes and leaves every other character raw: exactly the
 * body of a JSON string, so JSON.parse reads the original back. A value without a backslash was
 * not changed.
 */
function unescapedTokenValue(value: unknown, escaped: boolean): unknown {
  if (!escaped || typeof value !== 'string' || !value.includes('\\')) return value;
  try {
    return JSON.parse(`"${value}"`) as unknown;
  } catch {
    // Not morgan's escaping (another token wrapper): kept as it came, and JSON escapes it again.
    return value;
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A token value that is a decimal number (`:status`, `:response-time`, `:res[content-length]`), as a number. */
function numberOrUndefined(value: unknown, integer: boolean): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.length > 0 ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0) return undefined;
  return integer && !Number.isSafeInteger(n) ? undefined : n;
}

/**
 * The `mtls-json` format: one JSON object per line with the request fields of `combined` and the
 * identity. The request fields are morgan's own tokens (`:date[iso]`, `:remote-addr`, `:method`,
 * `:url`, `:http-version`, `:status`, `:res[content-length]`, `:referrer`, `:user-agent`,
 * `:response-time`), read through `tokens` as morgan's format functions do, so a token the app
 * redefined is what the line shows. morgan 1.12 escapes token output for text lines; that escaping
 * is undone before `JSON.stringify` escapes the value for JSON, so every value is escaped once
 * on every morgan version. Absent values are left out. Names are written as the tokens write them
 * (log-safe escapes), and identity fields are bounded like the tokens.
 */
export function mtlsJsonFormat(tokens: unknown, req: IncomingMessage, res: ServerResponse): string {
  const table: TokenTable = typeof tokens === 'function' || (typeof tokens === 'object' && tokens !== null) ? (tokens as TokenTable) : {};
  const escaped = escapesTokenOutput(table);
  const token = (name: string, arg?: string): unknown => unescapedTokenValue(tokenValue(table, name, req, res, arg), escaped);
  // Always has `time`, so it ends in `}` after at least one member.
  const request = stringifyLogSafe({
    time: stringOrUndefined(token('date', 'iso')) ?? logDate(new Date()),
    remote_addr: stringOrUndefined(token('remote-addr')),
    method: stringOrUndefined(token('method')),
    url: stringOrUndefined(token('url')),
    http_version: stringOrUndefined(token('http-version')),
    status: numberOrUndefined(token('status'), true),
    content_length: numberOrUndefined(token('res', 'content-length'), true),
    referrer: stringOrUndefined(token('referrer')),
    user_agent: stringOrUndefined(token('user-agent')),
    response_time_ms: numberOrUndefined(token('response-time'), false),
  });
  const identity = peekPeerIdentity(req);
  if (identity === undefined) return request;
  return `${request.slice(0, -1)}${identityJsonMembers(identity)}}`;
}

// Distinct verify results without a certificate (NONE, FAILED:<code>) whose identity part is kept.
const MAX_UNCERTIFIED_PARTS = 256;

// Token output as morgan 1.12 escapes it (a backslash before `\` and `"`, the short forms of five
// controls, `\uXXXX` for other controls and U+2028/U+2029), here extended to every log-unsafe
// character, which 1.12 leaves partly raw (a soft hyphen, U+061C, tag characters, ...).
// A character-class body: `"`, `\`, backspace, form feed, line feed, carriage return, tab.
const MORGAN_ESCAPED = String.raw`"\\\b\f\n\r\t`;
const RAW_FIELD_UNSAFE = logUnsafePatternWith(MORGAN_ESCAPED, 'gu');
const SHORT_ESCAPE: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeRawCharacter(character: string): string {
  return SHORT_ESCAPE[character] ?? unicodeEscapeCharacter(character);
}

/** A token value from a morgan that does not escape (1.10), escaped as 1.12 would and fully log-safe; falsy prints `-` as in morgan's compile(). */
function escapeRawField(value: string | undefined): string {
  if (!value) return '-';
  return String(value).replace(RAW_FIELD_UNSAFE, escapeRawCharacter);
}

/** One piece of a morgan format string: literal text or a token call. */
type FormatPiece = string | { readonly name: string; readonly arg: string | undefined };

/** `format` split as morgan's compile() splits it: `:name` or `:name[arg]` between literals. */
function piecesOf(format: string): readonly FormatPiece[] {
  const pieces: FormatPiece[] = [];
  let last = 0;
  for (const match of format.matchAll(/:([-\w]{2,})(?:\[([^\]]+)\])?/g)) {
    if (match.index > last) pieces.push(format.slice(last, match.index));
    pieces.push({ name: match[1]!, arg: match[2] });
    last = match.index + match[0].length;
  }
  if (last < format.length) pieces.push(format.slice(last));
  return pieces;
}

/** `pieces` with each token value passed through `field`. */
function formatPieces(pieces: readonly FormatPiece[], tokens: unknown, req: IncomingMessage, res: ServerResponse, field: (value: string | undefined) => string): string {
  const table = tokens as Record<string, MorganTokenFunction>;
  let line = '';
  for (const piece of pieces) {
    line += typeof piece === 'string' ? piece : field(table[piece.name]!(req, res, piece.arg));
  }
  return line;
}

// Printable ASCII: nothing log-unsafe. Tested without the `u` flag the shared set needs, on the
// whole request part, because nearly every line passes.
const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The request part of `mtls-combined`, log-safe on every morgan version. Compiled by morgan, as
 * morgan's `combined` prints it; usually that is already safe and is returned as is:
 * - morgan 1.12 escapes every token's output, except for some invisible characters, which are
 *   escaped here in the whole part (its own text has none), as `\uXXXX` like 1.12's escapes;
 * - morgan 1.10 escapes nothing: a part that is printable ASCII with only the format's own quotes
 *   and no backslash needs nothing; otherwise it is formatted again, each token value escaped as
 *   1.12 would and fully log-safe, so the line is the same on both versions.
 */
function requestPartFormat(compile: (format: string) => MorganFormatFunction, morganEscapes: boolean): MorganFormatFunction {
  const compiled = compile(COMBINED_PART);
  if (morganEscapes) {
    return (tokens, req, res) => {
      const part = String(compiled(tokens, req, res));
      return PRINTABLE.test(part) ? part : replaceLogUnsafe(part, unicodeEscapeCharacter);
    };
  }
  const pieces = piecesOf(COMBINED_PART);
  const quotes = COMBINED_PART.split('"').length - 1;
  const plain = new RegExp(`^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*(?:"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*){${quotes}}$`);
  return (tokens, req, res) => {
    const part = String(compiled(tokens, req, res));
    return plain.test(part) ? part : formatPieces(pieces, tokens, req, res, escapeRawField);
  };
}

/**
 * `mtls-combined` as a format function: the line morgan compiles from
 * {@link MTLS_COMBINED_FORMAT}, through the same morgan and its tokens, made log-safe as a whole.
 * The request part's token values (`:remote-user`, `:url`, `:referrer`, `:user-agent` come from the
 * client) are escaped as morgan 1.12 escapes them, also on a morgan that does not escape, and
 * every other log-unsafe character as `\uXXXX`; what morgan escaped already is not escaped again.
 * The identity part depends only on the certificate and the verify result, so it is formatted
 * once per pair and kept, not rebuilt from seven escaped tokens on every request.
 */
function mtlsCombinedFormat(compile: (format: string) => MorganFormatFunction, morganEscapes: boolean): MorganFormatFunction {
  const requestPart = requestPartFormat(compile, morganEscapes);
  const identityPart = compile(IDENTITY_PART);
  // One slot per certificate: its verify result rarely changes, and a changed one is re-formatted.
  const byCertificate = new WeakMap<PeerCertificate, { readonly verify: string; readonly part: string }>();
  const withoutCertificate = new Map<string, string>();
  let withoutIdentity: string | undefined;

  return (tokens, req, res) => {
    const line = requestPart(tokens, req, res);
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
    return `${line} ${part}`;
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
    if (!ours.has(name)) {
      morgan.token(name, tokenFor(name));
    }
    ours.add(name);
  }
  if (o.formats !== false) {
    if (!ours.has('mtls-combined')) {
      const compile = morgan.compile?.bind(morgan);
      morgan.format(
        'mtls-combined',
        typeof compile === 'function'
          ? mtlsCombinedFormat((format) => compile(format) as MorganFormatFunction, escapesTokenOutput(morgan))
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
