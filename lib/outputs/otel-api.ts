/**
 * Optional access to `@opentelemetry/api` (an optional peer dependency). Loaded once, on first
 * use, through `require`, so the library imports without it and stays loadable by `require()`
 * from CommonJS (no top-level await). The API keeps its providers on a process-wide global
 * (`Symbol.for('opentelemetry.js.api.1')`), so this copy sees the SDK the app registered through
 * its own `import`.
 */
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module namespace. */
export type OtelApiModule = typeof OtelApi;

const requireFromHere = createRequire(import.meta.url);
let loaded: OtelApiModule | null | undefined;

/** The OpenTelemetry API, or `undefined` when it is not installed. Never throws. */
export function otelApi(): OtelApiModule | undefined {
  if (loaded === undefined) {
    try {
      loaded = requireFromHere('@opentelemetry/api') as OtelApiModule;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

let version: string | undefined;

/** This package's version, for the instrumentation scope. */
export function libraryVersion(): string {
  if (version === undefined) {
    try {
      // lib/outputs/ and dist/outputs/ are both two levels below package.json.
      const pkg = requireFromHere('../../package.json') as { version?: unknown };
      version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      version = '0.0.0';
    }
  }
  return version;
}
