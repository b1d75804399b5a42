/**
 * Forwarded-certificate headers that must not be believed: from a peer that is not a trusted
 * proxy, and in any request's trailers. They are removed from every view Node gives of the
 * request (so later code cannot read them) and reported as one event to the callback the source
 * was given; what happens with the event (metrics, a log line, the user's hook) is the caller's.
 */
import type { IncomingMessage } from 'node:http';
import type { ProxyFormatName } from '../../identity/peer-identity.js';
import type { UntrustedProxyHeadersEvent } from '../../identity/untrusted-proxy-headers.js';

/** Receives each spoofing attempt. */
export type UntrustedHeadersCallback = (event: UntrustedProxyHeadersEvent) => void;

/** What {@link createUntrustedHeaders} needs from the resolved `proxy` option. */
export interface UntrustedHeadersConfig {
  readonly formatName: ProxyFormatName;
  readonly strippedNames: ReadonlySet<string>;
  readonly nameLengths: ReadonlySet<number>;
}

/** The untrusted-header handling of one proxy source. */
export interface UntrustedHeaders {
  /** Removes the names from an untrusted peer's request headers, and reports them when present. */
  removeFromHeaders(req: IncomingMessage): void;
  /** Removes the names from the request's trailers once they arrive (any peer), and reports them. */
  watchTrailers(req: IncomingMessage): void;
}

/**
 * Removes `names` from every view Node gives of the request headers (or trailers): the two objects
 * (`headers` and `headersDistinct`), then the raw list (edited in place). The objects are
 * computed lazily from the raw list with a count fixed at parse time, so they are materialised
 * first: a shorter raw list would break their getters. Returns the lowercase names found.
 */
export function removeNames(
  objects: readonly unknown[],
  raw: string[] | undefined,
  names: ReadonlySet<string>,
): string[] | undefined {
  // HTTP/2's compatibility request has no headersDistinct / trailersDistinct.
  for (const view of objects) {
    if (typeof view !== 'object' || view === null) continue;
    for (const name of names) delete (view as Record<string, unknown>)[name];
  }
  if (!Array.isArray(raw)) return undefined;
  let found: string[] | undefined;
  let kept = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (names.has(lower)) {
      if (!(found ??= []).includes(lower)) found.push(lower);
      continue;
    }
    raw[kept] = raw[i]!;
    raw[kept + 1] = raw[i + 1]!;
    kept += 2;
  }
  raw.length = kept;
  return found;
}

/** Builds the handling for `config`; `report` is called with each event, `undefined` reports nothing. */
export function createUntrustedHeaders(
  config: UntrustedHeadersConfig,
  report: UntrustedHeadersCallback | undefined,
): UntrustedHeaders {
  const { formatName, strippedNames, nameLengths } = config;

  const notify = (req: IncomingMessage, present: string[], inTrailers: boolean): void => {
    if (report === undefined) return;
    const event: UntrustedProxyHeadersEvent = Object.freeze({
      remoteAddress: req.socket?.remoteAddress,
      format: formatName,
      headers: Object.freeze(present),
      ...(inTrailers ? { trailers: true as const } : {}),
    });
    try {
      report(event);
    } catch {
      // A report must never change the request's identity.
    }
  };

  // Trailers arrive after the body, long after the middleware ran, and no proxy rewrites them
  // (Envoy's XFCC handling, nginx's proxy_set_header act on headers only): a copy of a certificate
  // header there is the client's, from any peer. It is removed when Node has parsed the trailers
  // (just before 'end', which app code listening later sees stripped) and reported.
  const stripTrailers = (req: IncomingMessage): void => {
    try {
      const found = removeNames([req.trailers, req.trailersDistinct], req.rawTrailers, strippedNames);
      if (found !== undefined) notify(req, found, true);
    } catch {
      // Never break the request from an 'end' listener.
    }
  };

  return {
    removeFromHeaders(req) {
      const raw = req.rawHeaders;
      let present: string[] | undefined;
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!;
        if (!nameLengths.has(name.length)) continue;
        const lower = name.toLowerCase();
        if (strippedNames.has(lower) && !(present ??= []).includes(lower)) present.push(lower);
      }
      if (present === undefined) return;
      removeNames([req.headers, req.headersDistinct], raw, strippedNames);
      notify(req, present, false);
    },
    watchTrailers(req) {
      // Only requests that can carry trailers (chunked HTTP/1.1, HTTP/2) pay for the listener.
      if (req.headers['transfer-encoding'] === undefined && req.httpVersionMajor !== 2) return;
      // A body parser that ran before the middleware has already received the whole message.
      if (req.complete) stripTrailers(req);
      else if (typeof req.once === 'function') req.once('end', () => stripTrailers(req));
    },
  };
}
