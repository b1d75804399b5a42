/**
 * The trusted-proxy identity source: when TLS ends at a proxy, the client certificate arrives in
 * request headers. Those headers are read only when the TCP peer is a configured trusted proxy;
 * from anyone else they are removed and reported (untrusted.ts), and the identity comes from the
 * fallback source (the TLS socket). Every bad value becomes a recorded `FAILED:<reason>` outcome,
 * never an exception. The configuration is resolved beforehand (options.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { CertificateCache } from '../../certificate/cache.js';
import type { PeerCertificate } from '../../certificate/peer-certificate.js';
import { isMtlsError } from '../../errors.js';
import { failedIdentity, missingIdentity, verifiedIdentity, type PeerIdentity } from '../../identity/peer-identity.js';
import type { IdentitySource } from '../source.js';
import { ProxyHeaderError, type ForwardedCertificate, type FormatLimits, type ProxyFailureReason } from './formats/format.js';
import { checkHeaderBytes } from './limits.js';
import type { ProxyConfig } from './options.js';
import { createUntrustedHeaders, type UntrustedHeadersCallback } from './untrusted.js';

/** What the proxy source works with besides its configuration. */
export interface ProxySourceParts {
  /** Resolves requests from untrusted peers (their own TLS connection). */
  readonly fallback: IdentitySource;
  /** Parses forwarded certificates (shared with the TLS source). */
  readonly certificates: CertificateCache;
  /** Receives each spoofing attempt. Default: none (the headers are still removed). */
  readonly onUntrustedHeaders?: UntrustedHeadersCallback;
}

/** Most distinct header values whose identity is remembered. */
const HEADER_CACHE_SIZE = 256;

/** Builds the proxy source for a resolved `proxy` option. */
export function createProxySource(config: ProxyConfig, parts: ProxySourceParts): IdentitySource {
  const { formatName: source, format, isTrusted, roleByName, roles, nameLengths, maxHeaderBytes } = config;
  const { fallback, certificates } = parts;
  const untrusted = createUntrustedHeaders(config, parts.onUntrustedHeaders);
  const limits: FormatLimits = {
    maxChainLength: config.maxChainLength,
    roles: new Set(roles),
    forwardClientCertDetails: config.forwardClientCertDetails,
    certificate: (der, trust) => certificates.get(der, trust),
  };
  const identities = new Map<string, PeerIdentity>();

  const failed = (reason: string, certificate?: PeerCertificate): PeerIdentity => failedIdentity(source, reason, certificate);
  const noCertificate = missingIdentity(source);
  const headerFailures = new Map<ProxyFailureReason, PeerIdentity>();
  const headerFailure = (reason: ProxyFailureReason): PeerIdentity => {
    let identity = headerFailures.get(reason);
    if (identity === undefined) headerFailures.set(reason, (identity = failed(reason)));
    return identity;
  };

  const toIdentity = (forwarded: ForwardedCertificate): PeerIdentity => {
    if (forwarded.kind === 'none') return noCertificate;
    let certificate: PeerCertificate | undefined;
    if (forwarded.der !== undefined) {
      try {
        certificate = certificates.get(forwarded.der, forwarded.kind === 'verified' ? 'verified' : 'unverified');
      } catch (error) {
        // The cache throws an MtlsError: a parse error, or a bound it enforces (certificate size).
        return failed(isMtlsError(error) ? error.code : 'ERR_MTLS_CERT_PARSE');
      }
    }
    if (forwarded.kind === 'failed') return failed(forwarded.reason, certificate);
    return verifiedIdentity(source, certificate);
  };

  /** The values of the headers read, by role; `undefined` when none is present. */
  const headerValues = (req: IncomingMessage): Record<string, string> | undefined => {
    const raw = req.rawHeaders;
    let values: Record<string, string> | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (!nameLengths.has(name.length)) continue;
      const role = roleByName.get(name.toLowerCase());
      if (role === undefined) continue;
      values ??= {};
      // Node joins repeated lines with ", ", which could splice a client's value onto the
      // proxy's (an appending proxy); a repeat is refused rather than interpreted.
      if (Object.hasOwn(values, role)) throw new ProxyHeaderError('HEADER_REPEATED', `${name} is repeated`);
      const value = raw[i + 1]!;
      checkHeaderBytes(value, maxHeaderBytes);
      values[role] = value;
    }
    return values;
  };

  const resolveTrusted = (req: IncomingMessage): PeerIdentity => {
    let values: Record<string, string> | undefined;
    try {
      values = headerValues(req);
    } catch (error) {
      return headerFailure(error instanceof ProxyHeaderError ? error.reason : 'HEADER_INVALID');
    }
    if (values === undefined) return noCertificate;
    // Header values cannot contain "\n", so this key is unambiguous.
    let key = '';
    for (const role of roles) key += `${values[role] ?? ''}\n`;
    const cached = identities.get(key);
    if (cached !== undefined) return cached;
    const present = values;
    let identity: PeerIdentity;
    try {
      // An empty value (nginx's $ssl_client_escaped_cert without a certificate) is absent; a
      // format with a configured verify header reads an absent one as PROXY_VERIFY_MISSING.
      identity = toIdentity(format.read((role) => present[role] || undefined, limits));
    } catch (error) {
      // A format throws ProxyHeaderError, or the cache's MtlsError for a certificate it reads.
      identity =
        error instanceof ProxyHeaderError
          ? headerFailure(error.reason)
          : isMtlsError(error)
            ? failed(error.code)
            : headerFailure('HEADER_INVALID');
    }
    if (identities.size >= HEADER_CACHE_SIZE) identities.delete(identities.keys().next().value!);
    identities.set(key, identity);
    return identity;
  };

  return {
    resolve(req) {
      try {
        untrusted.watchTrailers(req);
        if (isTrusted(req.socket?.remoteAddress)) return resolveTrusted(req);
        untrusted.removeFromHeaders(req);
      } catch {
        return headerFailure('HEADER_INVALID');
      }
      return fallback.resolve(req);
    },
  };
}
