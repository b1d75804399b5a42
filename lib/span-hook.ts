/**
 * `startIncomingSpanHook` for `@opentelemetry/instrumentation-http`. It reads the identity before
 * any middleware runs, so it composes the TLS source (through `getPeerIdentity`) with the tracing
 * output; neither may import the other, so the composition sits here.
 */
import type { IncomingMessage } from 'node:http';
import { getPeerIdentity } from './get-peer-identity.js';
import { IDENTITY_REASONS } from './identity/peer-identity.js';
import { spanStartAttributes } from './outputs/tracing.js';
import type { AttributesLike } from './outputs/otel-api.js';

const EMPTY_ATTRIBUTES: AttributesLike = Object.freeze({});

/**
 * A `startIncomingSpanHook` for `@opentelemetry/instrumentation-http`: returns the identity's
 * attributes before the server span starts, so samplers can decide by client identity:
 *
 * ```ts
 * new HttpInstrumentation({ startIncomingSpanHook })
 * ```
 *
 * It reads the request's own TLS connection (behind a trusted proxy it sees the proxy's
 * connection; the middleware still sets the forwarded identity on the span later). The identity is
 * kept per connection and the certificate cache is the process default one, shared with
 * `getPeerIdentity` and with `mtlsIdentity()` when that has no `certificates` options, so the
 * certificate is parsed once. Returns `{}` for plain HTTP requests and never throws.
 */
export function startIncomingSpanHook(request: IncomingMessage): AttributesLike {
  try {
    const identity = getPeerIdentity(request);
    if (identity === undefined || identity.reason === IDENTITY_REASONS.notTls) return EMPTY_ATTRIBUTES;
    return spanStartAttributes(identity, request);
  } catch {
    return EMPTY_ATTRIBUTES;
  }
}
