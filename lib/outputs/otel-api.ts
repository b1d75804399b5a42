/**
 * Optional access to `@opentelemetry/api` (an optional peer dependency). Loaded once, on first
 * use, through `require`, so the library imports without it and stays loadable by `require()`
 * from CommonJS (no top-level await). The API keeps its providers on a process-wide global
 * (`Symbol.for('opentelemetry.js.api.1')`), so this copy sees the SDK the app registered through
 * its own `import`.
 *
 * The types below are structural copies of the few API types that appear in this package's
 * public signatures, so the published declarations type-check without the optional package
 * installed. The real API is checked against them where it is loaded.
 */
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';

/** An attribute value: structurally `@opentelemetry/api`'s `AttributeValue`. */
export type AttributeValueLike =
  | string
  | number
  | boolean
  | (null | undefined | string)[]
  | (null | undefined | number)[]
  | (null | undefined | boolean)[];

/** Span or metric attributes: structurally `@opentelemetry/api`'s `Attributes`. */
export interface AttributesLike {
  [attributeKey: string]: AttributeValueLike | undefined;
}

/**
 * A meter provider: anything with `getMeter()`, such as `@opentelemetry/sdk-metrics`'s
 * `MeterProvider` or `metrics.getMeterProvider()` of `@opentelemetry/api`.
 */
export interface MeterProviderLike {
  getMeter(name: string, version?: string, options?: { schemaUrl?: string }): unknown;
}

/** A context: structurally `@opentelemetry/api`'s `Context`. */
export interface ContextLike {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): ContextLike;
  deleteValue(key: symbol): ContextLike;
}

/** The part of a span the tracing output uses. */
export interface SpanLike {
  setAttributes(attributes: AttributesLike): unknown;
  isRecording(): boolean;
}

/** The part of the `@opentelemetry/api` module this package uses. */
export interface OtelApiLike {
  readonly context: { active(): ContextLike };
  readonly trace: { getSpan(context: ContextLike): SpanLike | undefined };
  readonly metrics: { getMeterProvider(): MeterProviderLike };
}

const requireFromHere = createRequire(import.meta.url);
let loaded: OtelApiLike | null | undefined;

/** The OpenTelemetry API, or `undefined` when it is not installed. Never throws. */
export function otelApi(): OtelApiLike | undefined {
  if (loaded === undefined) {
    try {
      // Typed as the real module, so a change of the API that breaks OtelApiLike fails to compile.
      const api = requireFromHere('@opentelemetry/api') as typeof OtelApi;
      loaded = api;
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
