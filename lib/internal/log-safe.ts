/**
 * The log-safe character set and the field bound: the one owner of which characters a log line,
 * a span attribute or a distinguished-name string never carries raw, how they are escaped, and
 * how long an identity field written to a log line or span may be. Every writer (the DN renderer,
 * morgan tokens and formats, JSON lines, the handshake-failure line, the untrusted-header report)
 * uses these functions, so the rules cannot drift apart.
 *
 * Unsafe are the characters that split a line or hide text from a reader:
 * - C0 and C1 controls and DEL (U+0000-U+001F, U+007F-U+009F); log pipelines split on U+0085 too;
 * - line and paragraph separators (U+2028, U+2029);
 * - bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: Trojan Source,
 *   CVE-2021-42574);
 * - invisible format characters: soft hyphen (U+00AD), Hangul fillers (U+115F, U+1160, U+3164,
 *   U+FFA0), Mongolian vowel separator (U+180E), zero-width characters (U+200B-U+200D), word joiner
 *   and invisible operators (U+2060-U+2064), deprecated format characters (U+2065-U+206F), the BOM
 *   (U+FEFF), interlinear annotation characters (U+FFF9-U+FFFB) and tag characters
 *   (U+E0000-U+E007F);
 * - lone surrogates, which have no UTF-8 form.
 */

// With the `u` flag, `[\uD800-\uDFFF]` matches only surrogates that are not part of a pair.
const UNSAFE_SOURCE = '[\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u115f\\u1160\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb\\u{e0000}-\\u{e007f}\\ud800-\\udfff]';
const UNSAFE = new RegExp(UNSAFE_SOURCE, 'u');
const UNSAFE_GLOBAL = new RegExp(UNSAFE_SOURCE, 'gu');

/**
 * A regular expression matching every log-unsafe character and every character of `extra`, the
 * body of a character class (`'"\\\\'`): for a writer whose format must escape more than the
 * shared set (quotes, whitespace) and does it in one pass, so no escape is escaped again.
 */
export function logUnsafePatternWith(extra: string, flags: 'u' | 'gu'): RegExp {
  return new RegExp(`${UNSAFE_SOURCE}|[${extra}]`, flags);
}

/**
 * True when the character at `index` of `text` (a UTF-16 index; for a surrogate pair, the index of
 * its first half) must never be written raw.
 */
export function isLogUnsafeAt(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  if (code < 0xad) return false;
  if (code >= 0xd800 && code <= 0xdbff) {
    const low = text.charCodeAt(index + 1);
    if (!(low >= 0xdc00 && low <= 0xdfff)) return true;
    // U+E0000-U+E007F: high surrogate U+DB40, low U+DC00-U+DC7F.
    return code === 0xdb40 && low <= 0xdc7f;
  }
  if (code >= 0xdc00 && code <= 0xdfff) {
    const high = text.charCodeAt(index - 1);
    return !(high >= 0xd800 && high <= 0xdbff);
  }
  return (
    code === 0xad ||
    code === 0x61c ||
    code === 0x115f ||
    code === 0x1160 ||
    code === 0x180e ||
    (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2060 && code <= 0x206f) ||
    code === 0x3164 ||
    code === 0xfeff ||
    code === 0xffa0 ||
    (code >= 0xfff9 && code <= 0xfffb)
  );
}

/** True when `text` holds any character that must never be written raw. */
export function hasLogUnsafe(text: string): boolean {
  return UNSAFE.test(text);
}

const HEX = '0123456789ABCDEF';

/**
 * `\XX` per UTF-8 byte of one character (`\0A`, `\E2\80\AE`), the escape RFC 4514 section 2.4
 * allows for any character. A lone surrogate, which has no UTF-8 form, is written as U+FFFD's.
 */
export function hexEscapeCharacter(character: string): string {
  let escaped = '';
  for (const byte of Buffer.from(character, 'utf8')) escaped += '\\' + HEX[byte >> 4]! + HEX[byte & 15]!;
  return escaped;
}

/** `text` with every log-unsafe character written as `\XX` per UTF-8 byte. */
export function hexEscapeLogUnsafe(text: string): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_GLOBAL, hexEscapeCharacter);
}

/**
 * `text` with every log-unsafe character replaced by `escape(character)` (for a writer whose
 * format has its own escape syntax); `text` itself when it has none.
 */
export function replaceLogUnsafe(text: string, escape: (character: string) => string): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_GLOBAL, escape);
}

/**
 * `\uXXXX` per UTF-16 code unit of one character (`\u0085`, `\udb40\udc41`): the escape of JSON
 * strings, which morgan 1.12 also uses for controls it escapes.
 */
export function unicodeEscapeCharacter(character: string): string {
  let escaped = '';
  for (let i = 0; i < character.length; i++) {
    escaped += `\\u${character.charCodeAt(i).toString(16).padStart(4, '0')}`;
  }
  return escaped;
}

/** `%XX` per UTF-8 byte of one character (RFC 3986 section 2.1); a lone surrogate as U+FFFD's. */
export function percentEncodeCharacter(character: string): string {
  let escaped = '';
  for (const byte of Buffer.from(character, 'utf8')) escaped += '%' + HEX[byte >> 4]! + HEX[byte & 15]!;
  return escaped;
}

/**
 * `JSON.stringify(value)` with every log-unsafe character written as a `\uXXXX` escape:
 * JSON.stringify leaves U+007F-U+009F, the separators and the invisible characters raw. The
 * escapes parse back to the same value.
 */
export function stringifyLogSafe(value: unknown): string {
  const json = JSON.stringify(value);
  return UNSAFE.test(json) ? json.replace(UNSAFE_GLOBAL, unicodeEscapeCharacter) : json;
}

/**
 * Longest identity field (a subject, an issuer, a URI, ...) written to a log line or a span
 * attribute, in UTF-16 code units of the written (escaped) text, before the marker. `res.locals`
 * and `getPeerIdentity()` keep the full value.
 */
export const MAX_LOG_FIELD_LENGTH = 1024;

/** Appended to a field that {@link truncateLogField} shortened. */
export const TRUNCATION_MARKER = '...[truncated]';

/**
 * `text` cut to at most `maxLength` code units plus {@link TRUNCATION_MARKER} when longer. The cut
 * never splits a surrogate pair or a backslash escape (`\,` or `\0A`), so a truncated DN still
 * reads as RFC 4514 and cannot end in a lone `\` that would escape the log line's closing quote.
 */
export function truncateLogField(text: string, maxLength: number = MAX_LOG_FIELD_LENGTH): string {
  if (text.length <= maxLength) return text;
  return text.slice(0, cutIndex(text, maxLength, 0x5c)) + TRUNCATION_MARKER;
}

/**
 * {@link truncateLogField} for percent-encoded text (a URI written with `%XX` escapes): the cut
 * never splits a `%XX` escape or a surrogate pair, so what is kept still percent-decodes.
 */
export function truncatePercentEncoded(text: string, maxLength: number = MAX_LOG_FIELD_LENGTH): string {
  if (text.length <= maxLength) return text;
  return text.slice(0, cutIndex(text, maxLength, 0x25)) + TRUNCATION_MARKER;
}

/**
 * A log-safe, bounded text value: log-unsafe characters as `\XX` (names keep RFC 4514's style for
 * escaped characters), then cut by {@link truncateLogField}.
 */
export function boundedLogText(value: string, maxLength: number = MAX_LOG_FIELD_LENGTH): string {
  return truncateLogField(hexEscapeLogUnsafe(value), maxLength);
}

/**
 * A log-safe, bounded URI: log-unsafe characters percent-encoded (the URI's own escape), then cut
 * by {@link truncatePercentEncoded}.
 */
export function boundedLogUri(value: string, maxLength: number = MAX_LOG_FIELD_LENGTH): string {
  return truncatePercentEncoded(replaceLogUnsafe(value, percentEncodeCharacter), maxLength);
}

/** The longest prefix of at most `maxLength` code units that ends between whole escapes and characters. */
function cutIndex(text: string, maxLength: number, escapeCode: number): number {
  let cut = 0;
  while (cut < maxLength) {
    const code = text.charCodeAt(cut);
    let step = 1;
    // `\` escapes a byte (`\0A`) or the next character (`\,`); `%` only a byte (`%0A`).
    if (code === escapeCode) step = isHexPair(text, cut + 1) ? 3 : escapeCode === 0x5c ? 2 : 1;
    else if (code >= 0xd800 && code <= 0xdbff) step = 2;
    if (cut + step > maxLength) break;
    cut += step;
  }
  return cut;
}

function isHexPair(text: string, index: number): boolean {
  return isHexDigit(text.charCodeAt(index)) && isHexDigit(text.charCodeAt(index + 1));
}

function isHexDigit(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

// Unquoted fields end at whitespace, and `"` or `\` would fake quoting or an escape: all of them
// are escaped besides the log-unsafe characters, in one pass.
const FIELD_UNSAFE = logUnsafePatternWith(String.raw`\s"\\`, 'gu');

/**
 * An unquoted `key=value` field of a text line the library writes (the handshake-failure line,
 * the identity audit line): whitespace, `"`, `\` and every log-unsafe character become `\XX` per
 * UTF-8 byte (the escape style of the DN strings), so no value can split the line or fake another
 * field; then bounded by {@link truncateLogField}. Empty or absent prints `-` like morgan.
 */
export function logTextField(value: string | number | undefined): string {
  if (value === undefined) return '-';
  const text = String(value);
  if (text.length === 0) return '-';
  return truncateLogField(text.replace(FIELD_UNSAFE, hexEscapeCharacter));
}
