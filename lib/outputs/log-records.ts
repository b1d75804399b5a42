/**
 * OpenTelemetry log records through the optional `@opentelemetry/api-logs` (not a dependency):
 * loaded once, on first use, through `require`, so the library imports without it, like
 * otel-api.ts loads `@opentelemetry/api`. The logs API keeps its provider on a process-wide
 * global, so this copy sees the `LoggerProvider` the app registered through its own import.
 *
 * {@link LogRecordEmitter} is the one way the library emits a record: a caller builds an
 * {@link MtlsLogRecord} (event name, severity, body, attributes) and emits it; the emitter finds
 * the provider and logger and never throws. The handshake observer emits
 * `mtls.handshake.failure` (built in handshake/log-record.ts); the middleware emits the identity
 * audit events `mtls.identity.*` (built in identity-audit-record.ts), through the same class.
 *
 * The types here are structural on purpose: the published declarations must not need an
 * optional package.
 */
import { createRequire } from 'node:module';
import { optionGroup, type OptionCheck, type OptionGroup } from '../internal/options.js';
import { libraryVersion } from './otel-api.js';
import { INSTRUMENTATION_SCOPE_NAME } from './semconv.js';

/** An attribute value of a log record (the subset of OpenTelemetry's `AnyValue` used here). */
export type LogAttributeValue = string | number | boolean;

/** The parts of an OpenTelemetry `LogRecord` the library sets. */
export interface OtelLogRecordLike {
  readonly eventName?: string;
  readonly timestamp?: Date | number;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: string;
  readonly attributes?: Readonly<Record<string, LogAttributeValue>>;
}

/** An OpenTelemetry `Logger` (from `@opentelemetry/api-logs`), structurally. */
export interface LoggerLike {
  emit(record: OtelLogRecordLike): void;
}

/** An OpenTelemetry `LoggerProvider` (e.g. `@opentelemetry/sdk-logs`' `LoggerProvider`), structurally. */
export interface LoggerProviderLike {
  getLogger(name: string, version?: string): LoggerLike;
}

/** The `logs` option: where log records go. `false` turns them off; `{}` uses the defaults. */
export interface LogRecordsOptions {
  /**
   * The `LoggerProvider` to emit to. Default: the global one of `@opentelemetry/api-logs`
   * (`logs.getLoggerProvider()`), looked up when a record is emitted; nothing is emitted when
   * that package is not installed, and the global provider is a no-op until an SDK registers one.
   */
  readonly loggerProvider?: LoggerProviderLike;
}

/** OpenTelemetry severity numbers used by the library (the log data model's ranges). */
export const LOG_SEVERITY = {
  DEBUG: 5,
  INFO: 9,
  WARN: 13,
  ERROR: 17,
} as const;

/** One of {@link LOG_SEVERITY}'s names. */
export type LogSeverityText = keyof typeof LOG_SEVERITY;

/** A record the library emits. */
export interface MtlsLogRecord {
  /** The event name (`mtls.handshake.failure`). */
  readonly eventName: string;
  /** The severity; its number is taken from {@link LOG_SEVERITY}. */
  readonly severity: LogSeverityText;
  /** A short human-readable message. */
  readonly body: string;
  /** When the event happened. */
  readonly time: Date;
  /** Low-cardinality attributes (semantic-convention names where one exists). */
  readonly attributes: Readonly<Record<string, LogAttributeValue>>;
}

const isLoggerProvider: OptionCheck = (v) =>
  typeof v === 'object' && v !== null && typeof (v as { getLogger?: unknown }).getLogger === 'function'
    ? undefined
    : 'a LoggerProvider (an object with getLogger(), e.g. from @opentelemetry/sdk-logs)';

/** The checks of a `logs` option. */
export const LOG_RECORDS_OPTIONS: OptionGroup = optionGroup<LogRecordsOptions>({
  expected: 'false (off) or an object of log-record options ({} for the global LoggerProvider)',
  allowFalse: true,
  checks: { loggerProvider: isLoggerProvider },
});

interface LogsApiModule {
  readonly logs: { getLoggerProvider(): LoggerProviderLike };
}

const requireFromHere = createRequire(import.meta.url);
let loaded: LogsApiModule | null | undefined;

/** `@opentelemetry/api-logs`, or `undefined` when it is not installed. Never throws. */
export function otelLogsApi(): LogsApiModule | undefined {
  if (loaded === undefined) {
    try {
      const module = requireFromHere('@opentelemetry/api-logs') as Partial<LogsApiModule>;
      loaded = typeof module.logs?.getLoggerProvider === 'function' ? (module as LogsApiModule) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/**
 * Emits the library's log records to one provider (or the global one). Built at factory time
 * with no OpenTelemetry call; the provider and logger are looked up when a record is emitted.
 */
export class LogRecordEmitter {
  readonly #fixedProvider: LoggerProviderLike | undefined;
  #boundProvider: LoggerProviderLike | undefined;
  #logger: LoggerLike | undefined;

  constructor(options: LogRecordsOptions = {}) {
    this.#fixedProvider = options.loggerProvider;
  }

  #loggerNow(): LoggerLike | undefined {
    const provider = this.#fixedProvider ?? otelLogsApi()?.logs.getLoggerProvider();
    if (provider !== this.#boundProvider) {
      this.#boundProvider = provider;
      this.#logger = provider?.getLogger(INSTRUMENTATION_SCOPE_NAME, libraryVersion());
    }
    return this.#logger;
  }

  /** Emits `record`. Never throws: a failing provider must not break what is being observed. */
  emit(record: MtlsLogRecord): void {
    try {
      this.#loggerNow()?.emit({
        eventName: record.eventName,
        timestamp: record.time,
        severityNumber: LOG_SEVERITY[record.severity],
        severityText: record.severity,
        body: record.body,
        attributes: record.attributes,
      });
    } catch {
      // Observation never breaks the server.
    }
  }
}
