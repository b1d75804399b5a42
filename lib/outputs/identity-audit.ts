/**
 * The identity audit line: one line per audit event of the `audit` option of `mtlsIdentity()`
 * (a client certificate seen for the first time, a rotation, an unexpected identity), in a text
 * form that sits beside `mtls-combined` access lines and a JSON form that sits beside `mtls-json`
 * lines, like the handshake-failure line of `observeTlsServer()`.
 *
 * Text (the first fields are those of the combined format; then `key=value` pairs, each escaped
 * by `logTextField`, so a space in a name is `\20`):
 *
 *     127.0.0.1 - - [01/Dec/2026:23:40:00 +0000] "mTLS client rotation" event=rotation source=tls subject=CN=billing,O=Example issuer=CN=Example\20CA serial=0B spiffe=- not_after=2027-12-01T23:40:00.000Z fingerprint=… rotated_by=subject previous_serial=0A previous_fingerprint=…
 *
 * JSON (the `peer_cert_*` keys of `mtls-json`; absent values are left out):
 *
 *     {"time":"2026-12-01T23:40:00.000Z","event":"mtls_client_rotation","remote_addr":"127.0.0.1","source":"tls","peer_cert_subject":"CN=billing,O=Example",…}
 *
 * Every value is log-safe (lib/internal/log-safe.ts) and bounded by `MAX_LOG_FIELD_LENGTH`.
 */
import { logTextField, stringifyLogSafe, truncateLogField } from '../internal/log-safe.js';
import { clfDate, eventTime, logDate } from '../internal/log-date.js';
import {
  IDENTITY_RECORD_OPTION_CHECKS,
  IdentityRecord,
  type IdentityAuditEvent,
  type IdentityAuditEventType,
} from '../identity/seen-identities.js';
import { isLogDestination, type LogDestination } from '../internal/log-destination.js';
import { isFunction, isOneOf, optionGroup, type OptionGroup } from '../internal/options.js';
import { LOG_RECORDS_OPTIONS, type LogRecordsOptions } from './log-records.js';

/** Output forms of the audit line. */
export type IdentityAuditLogFormat = 'text' | 'json';

/** The title of each event kind: in the text line's quoted field and the log record's body. */
export const AUDIT_EVENT_TITLES: Readonly<Record<IdentityAuditEventType, string>> = {
  first_seen: 'mTLS client first seen',
  rotation: 'mTLS client rotation',
  unexpected: 'mTLS client unexpected',
};

/** The audit line of `event`, without the trailing newline. */
export function formatIdentityAuditEvent(event: IdentityAuditEvent, format: IdentityAuditLogFormat): string {
  return format === 'json' ? formatJson(event) : formatText(event);
}

function formatText(e: IdentityAuditEvent): string {
  let line =
    `${logTextField(e.remoteAddress)} - - [${clfDate(eventTime(e.time))}] "${AUDIT_EVENT_TITLES[e.type]}" event=${e.type}` +
    (e.type === 'unexpected' ? ` reason=${logTextField(e.reason)} mode=${logTextField(e.mode)}` : '') +
    ` source=${logTextField(e.source)} subject=${logTextField(e.subject)} issuer=${logTextField(e.issuer)}` +
    ` serial=${logTextField(e.serialNumber)} spiffe=${logTextField(e.spiffeId)} not_after=${logTextField(logDate(e.notAfter))}` +
    ` fingerprint=${logTextField(e.fingerprint256)}`;
  if (e.type === 'rotation') {
    line +=
      ` rotated_by=${logTextField(e.rotatedBy)} previous_serial=${logTextField(e.previousSerialNumber)}` +
      ` previous_fingerprint=${logTextField(e.previousFingerprint256)}`;
  }
  return line;
}

function formatJson(e: IdentityAuditEvent): string {
  return stringifyLogSafe({
    time: logDate(eventTime(e.time)),
    event: `mtls_client_${e.type}`,
    remote_addr: bounded(e.remoteAddress),
    ...(e.type === 'unexpected' ? { reason: e.reason, mode: e.mode } : {}),
    source: e.source,
    peer_cert_subject: bounded(e.subject),
    peer_cert_issuer: bounded(e.issuer),
    peer_cert_serial: bounded(e.serialNumber),
    peer_cert_spiffe: bounded(e.spiffeId),
    peer_cert_not_after: logDate(e.notAfter),
    peer_cert_fingerprint: bounded(e.fingerprint256),
    ...(e.type === 'rotation'
      ? {
          rotated_by: e.rotatedBy,
          previous_serial: bounded(e.previousSerialNumber),
          previous_fingerprint: bounded(e.previousFingerprint256),
        }
      : {}),
  });
}

function bounded(value: string | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? truncateLogField(value) : undefined;
}

/** Where the audit events of `mtlsIdentity()`'s `audit` option go. */
export interface IdentityAuditOutputOptions {
  /**
   * Where to write one line per event: a stream such as `process.stdout` or the access log's
   * file stream, or a function that receives each line. Default: no line (events are counted).
   */
  readonly log?: LogDestination;
  /** `'text'` (beside `mtls-combined` lines) or `'json'` (beside `mtls-json` lines). Default: `'text'`. */
  readonly logFormat?: IdentityAuditLogFormat;
  /** Called with each event, for structured loggers. A throw is caught. Default: none. */
  readonly onEvent?: (event: IdentityAuditEvent) => void;
  /**
   * One OpenTelemetry log record per event (`mtls.identity.first_seen`, `mtls.identity.rotation`,
   * `mtls.identity.unexpected`; docs/identities.md), through the optional `@opentelemetry/api-logs`:
   * `false` turns them off, `{ loggerProvider }` names the provider. Default: `{}` (the global
   * `LoggerProvider`; nothing without `@opentelemetry/api-logs` or a logs SDK).
   */
  readonly logs?: false | LogRecordsOptions;
}

/** `audit` with a record of the middleware's own. */
export interface IdentityAuditOwnRecordOptions extends IdentityAuditOutputOptions {
  /**
   * Most certificates in the middleware's own record: an integer from 1 to 100000 (see
   * `IdentityRecordOptions.maxEntries`). Default: `1000`.
   */
  readonly maxEntries?: number;
  /** Not with `maxEntries`: set `maxEntries` on the record. */
  readonly record?: never;
}

/** `audit` with a record to keep seen identities in. */
export interface IdentityAuditSharedRecordOptions extends IdentityAuditOutputOptions {
  /**
   * The record to keep seen identities in (share one between middleware instances, and read it
   * with `record.snapshot()`). No default.
   */
  readonly record: IdentityRecord;
  /** Not with `record`: set `maxEntries` on the record. */
  readonly maxEntries?: never;
}

/**
 * The `audit` option of `mtlsIdentity()`: first-seen, rotation and unexpected-identity events,
 * and the record of seen identities behind them (its own, or the one given).
 */
export type IdentityAuditOptions = IdentityAuditOwnRecordOptions | IdentityAuditSharedRecordOptions;

/** The checks of `mtlsIdentity()`'s `audit` option. */
export const IDENTITY_AUDIT_OPTIONS: OptionGroup = optionGroup<IdentityAuditOptions>({
  expected: "an object such as { log: process.stdout, logFormat: 'json' }",
  checks: {
    record: (v) => (v instanceof IdentityRecord ? undefined : 'an IdentityRecord instance'),
    maxEntries: IDENTITY_RECORD_OPTION_CHECKS.maxEntries,
    log: isLogDestination,
    logFormat: isOneOf(['text', 'json']),
    onEvent: isFunction,
    logs: LOG_RECORDS_OPTIONS,
  },
  exclusive: [{ key: 'record', excludes: ['maxEntries'], fix: 'set maxEntries on the IdentityRecord instead' }],
});
