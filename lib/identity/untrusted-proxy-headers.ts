/**
 * The event of a spoofing attempt: forwarded-certificate headers from a peer that is not a trusted
 * proxy (or in any request's trailers). The proxy source produces it and the outputs (metrics, the
 * stderr reporter, the user's hook) consume it; sources and outputs may not import each other, so
 * the type sits here beside the identity vocabulary they both use.
 */
import type { ProxyFormatName } from './peer-identity.js';

/**
 * Reported once per request that carried forwarded-certificate headers from an untrusted peer,
 * and once more when a request's trailers carried any of those names.
 */
export interface UntrustedProxyHeadersEvent {
  /** The TCP peer address (`socket.remoteAddress`), `undefined` when the socket is gone. */
  readonly remoteAddress: string | undefined;
  /** The format whose headers were sent. */
  readonly format: ProxyFormatName;
  /** Lowercase names of the headers that were present and removed. */
  readonly headers: readonly string[];
  /**
   * `true` when the names came in the request's trailers (reported when the body has been read,
   * from any peer: no proxy rewrites trailers); absent for headers.
   */
  readonly trailers?: true;
}
