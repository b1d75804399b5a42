/**
 * Expected identities: who may call. A policy over verified identities, pure functions of a
 * {@link PeerIdentity}: the middleware counts, reports and (in `enforce` mode) refuses what does
 * not match. Patterns are compiled once, at factory time; matching is exact (SPIFFE IDs by path
 * segment, names as the certificate layer renders them), never a regular expression.
 */
import { normalizeDistinguishedName } from '../certificate/distinguished-name.js';
import { describeValue, isIntegerInRange, isOneOf, optionGroup, type OptionCheck, type OptionGroup } from '../internal/options.js';
import type { PeerIdentity } from './peer-identity.js';

/**
 * The `expected` option of `mtlsIdentity()`: who may call. Every list that is set must match
 * (one entry of each); a list left out is not checked. Only verified identities are checked: an
 * unverified one is refused by `require` or counted as unverified, never as unexpected.
 */
export interface ExpectedIdentitiesOptions {
  /**
   * `'observe'`: an unexpected identity is counted (`mtls.server.unexpected_identities`) and
   * reported, and the request goes on. `'enforce'`: it also gets HTTP 403 with code
   * `ERR_MTLS_CLIENT_NOT_ALLOWED`; needs `require: true`, so a client without a certificate cannot
   * pass where an unexpected one is refused. Required.
   */
  readonly mode: ExpectedIdentitiesMode;
  /**
   * SPIFFE ID patterns (the certificate's single `spiffe://` URI SAN), matched segment by segment:
   * `spiffe://example.org/ns/prod/sa/billing` exactly; `*` as a whole segment matches any one
   * segment (`spiffe://example.org/ns/prod/sa/*`); `**` as the last segment matches one or more
   * further segments (`spiffe://example.org/ns/prod/**`). The trust domain is matched exactly.
   * Each pattern must be a valid SPIFFE ID apart from the wildcards. Default: not checked.
   */
  readonly spiffeIds?: readonly string[];
  /**
   * Subject distinguished names (RFC 4514, e.g. `CN=billing,O=Example`), matched exactly against
   * the certificate's `subject` after both are written the same way (attribute names in
   * OpenSSL's form, no spaces around separators). Default: not checked.
   */
  readonly subjects?: readonly string[];
  /**
   * Issuer distinguished names (the CA that signed the client certificate), matched like
   * `subjects` against the certificate's `issuer`. Default: not checked.
   */
  readonly issuers?: readonly string[];
  /**
   * An unexpected identity (one certificate) is reported at most once per this many seconds; it
   * is counted on every request. An integer from 1 to 604800. Default: `3600`.
   */
  readonly reportWindowSeconds?: number;
}

/** Values of {@link ExpectedIdentitiesOptions.mode}. */
export type ExpectedIdentitiesMode = 'observe' | 'enforce';

/** Default {@link ExpectedIdentitiesOptions.reportWindowSeconds}. */
export const DEFAULT_REPORT_WINDOW_SECONDS = 3600;

/**
 * Which rule an unexpected identity failed: the metric attribute `mtls.unexpected.reason` and
 * the `reason` of the report. Rules are checked in this order; the first failure is the reason.
 */
export const UNEXPECTED_IDENTITY_REASONS = {
  /** A verified identity with no certificate to check (a proxy that forwards a verdict only). */
  noCertificate: 'no_certificate',
  /** `issuers` is set and the certificate's issuer is not in it. */
  issuer: 'issuer',
  /** `spiffeIds` is set and the certificate has no SPIFFE ID, an invalid one, or one no pattern matches. */
  spiffeId: 'spiffe_id',
  /** `subjects` is set and the certificate's subject is not in it. */
  subject: 'subject',
} as const;

/** A value of {@link UNEXPECTED_IDENTITY_REASONS}. */
export type UnexpectedIdentityReason = (typeof UNEXPECTED_IDENTITY_REASONS)[keyof typeof UNEXPECTED_IDENTITY_REASONS];

const isStringArray: OptionCheck = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((item) => typeof item === 'string') ? undefined : 'a non-empty array of strings';

/** The option checks of `expected` (each entry is checked again, with its index, when compiled). */
export const EXPECTED_IDENTITIES_OPTIONS: OptionGroup = optionGroup<ExpectedIdentitiesOptions>({
  expected: "an object such as { mode: 'observe', spiffeIds: ['spiffe://example.org/ns/prod/*'] }",
  checks: {
    mode: isOneOf(['observe', 'enforce']),
    spiffeIds: isStringArray,
    subjects: isStringArray,
    issuers: isStringArray,
    reportWindowSeconds: isIntegerInRange(1, 604_800),
  },
  required: { mode: "'observe' (count and report) or 'enforce' (also refuse with 403)" },
});

/** A SPIFFE ID cut into its parts. */
interface SpiffeIdParts {
  readonly trustDomain: string;
  readonly segments: readonly string[];
}

/** Longest SPIFFE ID, in bytes (SPIFFE ID specification, section 2.3). */
const MAX_SPIFFE_ID_LENGTH = 2048;
/** Longest trust domain name (SPIFFE ID specification, section 2.1). */
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const SCHEME = 'spiffe://';

/**
 * `text` as a SPIFFE ID (SPIFFE ID specification, section 2): the scheme `spiffe://` in lowercase,
 * a trust domain of lowercase letters, digits, `.`, `-` and `_` (no port, no user info), then
 * path segments of letters, digits, `.`, `-` and `_`: no empty, `.` or `..` segment, no trailing
 * `/`, no percent-encoding, query or fragment. With `wildcards`, a segment may be `*`, and the last
 * one `**`.
 */
function parseSpiffeId(text: string, wildcards: boolean): SpiffeIdParts | { readonly error: string } {
  if (Buffer.byteLength(text) > MAX_SPIFFE_ID_LENGTH) return { error: `it is longer than ${MAX_SPIFFE_ID_LENGTH} bytes` };
  if (!text.startsWith(SCHEME)) return { error: 'it does not start with "spiffe://" (lowercase)' };
  const rest = text.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (trustDomain.length === 0) return { error: 'the trust domain is empty' };
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) return { error: `the trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters` };
  if (!TRUST_DOMAIN.test(trustDomain)) {
    return { error: 'the trust domain may hold only lowercase letters, digits, ".", "-" and "_" (no port, user info or wildcard)' };
  }
  if (slash < 0) return { trustDomain, segments: [] };
  const segments = rest.slice(slash + 1).split('/');
  for (const [i, segment] of segments.entries()) {
    if (segment.length === 0) return { error: i === segments.length - 1 ? 'it ends with "/"' : 'the path has an empty segment ("//")' };
    if (segment === '.' || segment === '..') return { error: `the path has a ${JSON.stringify(segment)} segment` };
    if (wildcards && segment === '*') continue;
    if (wildcards && segment === '**') {
      if (i !== segments.length - 1) return { error: '"**" may only be the last segment' };
      continue;
    }
    if (!SEGMENT.test(segment)) {
      return {
        error: wildcards && segment.includes('*')
          ? `the segment ${JSON.stringify(segment)} mixes "*" with other characters (a wildcard is a whole segment)`
          : `the segment ${JSON.stringify(segment)} may hold only letters, digits, ".", "-" and "_" (no percent-encoding, query or fragment)`,
      };
    }
  }
  return { trustDomain, segments };
}

function spiffeIdMatches(pattern: SpiffeIdParts, id: SpiffeIdParts): boolean {
  if (pattern.trustDomain !== id.trustDomain) return false;
  const p = pattern.segments;
  const rest = p.length > 0 && p[p.length - 1] === '**';
  const fixed = rest ? p.length - 1 : p.length;
  if (rest ? id.segments.length <= fixed : id.segments.length !== fixed) return false;
  for (let i = 0; i < fixed; i++) {
    if (p[i] !== '*' && p[i] !== id.segments[i]) return false;
  }
  return true;
}

/** An `expected` option compiled: the mode, the report window and the check. */
export interface ExpectedIdentities {
  readonly mode: ExpectedIdentitiesMode;
  readonly reportWindowMs: number;
  /** The rule `identity` fails, or `undefined` when it is expected (or not verified, which is not checked). */
  check(identity: PeerIdentity): UnexpectedIdentityReason | undefined;
}

/**
 * Compiles a validated `expected` option. `factory` and `path` name it in errors.
 *
 * @throws {TypeError} naming the entry (`expected.spiffeIds[2]`) for an invalid pattern or name.
 */
export function compileExpectedIdentities(factory: string, path: string, options: ExpectedIdentitiesOptions): ExpectedIdentities {
  const invalid = (key: string, index: number, value: string, what: string, error: string) =>
    new TypeError(`${factory}: option "${path}.${key}[${index}]" must be ${what}, got ${describeValue(value)}: ${error}.`);
  const spiffeIds = options.spiffeIds?.map((text, i) => {
    const parsed = parseSpiffeId(text, true);
    if ('error' in parsed) throw invalid('spiffeIds', i, text, 'a SPIFFE ID pattern', parsed.error);
    return parsed;
  });
  const names = (key: 'subjects' | 'issuers') =>
    options[key] === undefined
      ? undefined
      : new Set(
          options[key].map((text, i) => {
            const name = normalizeDistinguishedName(text);
            if (typeof name !== 'string') throw invalid(key, i, text, 'an RFC 4514 distinguished name', name.error);
            return name;
          }),
        );
  const subjects = names('subjects');
  const issuers = names('issuers');
  return Object.freeze({
    mode: options.mode,
    reportWindowMs: (options.reportWindowSeconds ?? DEFAULT_REPORT_WINDOW_SECONDS) * 1000,
    check(identity: PeerIdentity): UnexpectedIdentityReason | undefined {
      if (!identity.verified) return undefined;
      const certificate = identity.certificate;
      if (certificate === undefined) return UNEXPECTED_IDENTITY_REASONS.noCertificate;
      if (issuers !== undefined && !issuers.has(certificate.issuer)) return UNEXPECTED_IDENTITY_REASONS.issuer;
      if (spiffeIds !== undefined) {
        const id = certificate.spiffeId === undefined ? undefined : parseSpiffeId(certificate.spiffeId, false);
        if (id === undefined || 'error' in id || !spiffeIds.some((pattern) => spiffeIdMatches(pattern, id))) {
          return UNEXPECTED_IDENTITY_REASONS.spiffeId;
        }
      }
      if (subjects !== undefined && !subjects.has(certificate.subject)) return UNEXPECTED_IDENTITY_REASONS.subject;
      return undefined;
    },
  });
}

/**
 * Most unexpected certificates remembered as reported within the window. Beyond it the one
 * reported longest ago is forgotten (and may be reported again before its window ends), so many
 * valid certificates cannot grow this without bound.
 */
export const MAX_REMEMBERED_REPORTS = 1000;

/** Which unexpected certificates were reported when: at most once per window each, bounded. */
export class UnexpectedReports {
  // By fingerprint; insertion order is report order, so the first key is the oldest report.
  readonly #reportedAt = new Map<string, number>();
  readonly #windowMs: number;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Whether the certificate with `fingerprint` is due a report at `now`; if so, it is remembered as reported. */
  due(fingerprint: string, now: number): boolean {
    const last = this.#reportedAt.get(fingerprint);
    if (last !== undefined && now - last < this.#windowMs) return false;
    this.#reportedAt.delete(fingerprint);
    this.#reportedAt.set(fingerprint, now);
    if (this.#reportedAt.size > MAX_REMEMBERED_REPORTS) this.#reportedAt.delete(this.#reportedAt.keys().next().value!);
    return true;
  }
}
