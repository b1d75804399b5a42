/**
 * The default report of a spoofing attempt (forwarded-certificate headers from an untrusted peer,
 * or in trailers): one JSON line on `process.stderr`, so it reaches the process's logs without any
 * configuration. Log-safe: a client chooses none of its text but the header names Node accepted.
 */
import { logDate } from '../internal/log-date.js';
import { stringifyLogSafe } from '../internal/log-safe.js';
import type { UntrustedProxyHeadersEvent } from '../identity/untrusted-proxy-headers.js';

/** Event name of the stderr line. */
export const UNTRUSTED_PROXY_HEADERS_EVENT = 'mtls.untrusted_proxy_headers';

/** Writes `event` as one JSON line (`{"time":…,"event":"mtls.untrusted_proxy_headers",…}`) to stderr. */
export function writeUntrustedProxyHeadersLine(event: UntrustedProxyHeadersEvent): void {
  process.stderr.write(
    `${stringifyLogSafe({
      time: logDate(new Date()),
      event: UNTRUSTED_PROXY_HEADERS_EVENT,
      remoteAddress: event.remoteAddress ?? null,
      format: event.format,
      headers: event.headers,
      ...(event.trailers ? { trailers: true } : {}),
    })}\n`,
  );
}
