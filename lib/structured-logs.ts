/**
 * What a structured logger needs beside {@link mtlsLogFields}: the forwarded-certificate headers
 * to redact. A composition of the proxy formats' header table with pino's path syntax, so the
 * list follows the formats without a copy.
 */
import { FORWARDED_CERTIFICATE_HEADER_NAMES } from './sources/proxy/formats/index.js';

/**
 * pino `redact` paths for every forwarded-certificate header of the supported proxy formats
 * (`req.headers["x-forwarded-client-cert"]`, `req.headers["x-ssl-client-cert"]`, ...). pino's
 * default request serializer logs every request header, and these carry whole PEM certificates
 * (several kilobytes per request), from any client when the request did not come through a
 * trusted proxy. pino-http serializes the request when it arrives, before `mtlsIdentity()`
 * removes such headers from an untrusted peer's request, so they must be redacted in the logger.
 * Headers renamed with `proxy.headerNames` are not in the list: add `req.headers["<name>"]` for each.
 */
export const FORWARDED_CERTIFICATE_REDACT_PATHS: readonly string[] = Object.freeze(
  FORWARDED_CERTIFICATE_HEADER_NAMES.map((name) => `req.headers[${JSON.stringify(name)}]`),
);
