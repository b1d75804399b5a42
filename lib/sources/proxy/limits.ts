/**
 * The bounds on what a trusted proxy may forward, and their checks: the longest header value and
 * the most certificates (or XFCC elements) in one header. The decoders, the formats and the source
 * call these, so each bound has one definition, one error and one reason. (The forwarded
 * certificate's own size is bounded by the certificate cache that parses it.)
 */
import { ProxyHeaderError } from './formats/format.js';

/** Default of `proxy.maxHeaderBytes`: Node's default limit for all headers. */
export const DEFAULT_MAX_PROXY_HEADER_BYTES = 16_384;
/** Default of `proxy.maxChainLength`. */
export const DEFAULT_MAX_PROXY_CHAIN_LENGTH = 8;
/** Accepted range of `proxy.maxHeaderBytes`. */
export const PROXY_HEADER_BYTES_RANGE = { min: 64, max: 1_048_576 } as const;
/** Accepted range of `proxy.maxChainLength`. */
export const PROXY_CHAIN_LENGTH_RANGE = { min: 1, max: 64 } as const;

/**
 * Throws `HEADER_TOO_LARGE` for a header value over `maxHeaderBytes`. Node decodes header values
 * as latin1, one character per byte, so the length is the byte count.
 */
export function checkHeaderBytes(value: string, maxHeaderBytes: number): void {
  if (value.length > maxHeaderBytes) {
    throw new ProxyHeaderError('HEADER_TOO_LARGE', `a header value is longer than ${maxHeaderBytes} bytes`);
  }
}

/**
 * Throws `HEADER_CHAIN_TOO_LONG` when `count` members (certificates, or XFCC elements when
 * `what` says so) exceed `maxChainLength`.
 */
export function checkChainLength(count: number, maxChainLength: number, what = 'certificates in one header'): void {
  if (count > maxChainLength) {
    throw new ProxyHeaderError('HEADER_CHAIN_TOO_LONG', `more than ${maxChainLength} ${what}`);
  }
}
