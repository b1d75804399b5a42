/**
 * OpenTelemetry setup for examples/otel/app.ts, loaded before the app with `--import`:
 *
 *   OTEL_SERVICE_NAME=mtls-example OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
 *     node --import tsx --import ./examples/otel/instrumentation.ts examples/otel/app.ts certs
 *
 * Everything about exporting comes from the standard OTEL_* variables (endpoint, protocol,
 * OTEL_METRIC_EXPORT_INTERVAL, OTEL_TRACES_SAMPLER, ...): NodeSDK reads them.
 */
import { register } from 'node:module';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { startIncomingSpanHook } from 'mtls-observability';

// ESM apps: lets the instrumentations patch `express` and `node:https` when app.ts imports them
// (opentelemetry-js doc/esm-support.md). CommonJS apps do not need this line.
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const sdk = new NodeSDK({
  instrumentations: [
    // The client identity is on the server span from its start, so samplers can use it.
    new HttpInstrumentation({ startIncomingSpanHook }),
    new ExpressInstrumentation(),
  ],
});
sdk.start();

// Flush spans and metrics on the way out.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    sdk
      .shutdown()
      .catch((error: unknown) => console.error('OpenTelemetry shutdown failed:', error))
      .finally(() => process.exit(0));
  });
}
