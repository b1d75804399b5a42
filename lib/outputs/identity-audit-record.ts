/**
 * The OpenTelemetry log record of an identity audit event (`mtls.identity.first_seen`,
 * `mtls.identity.rotation`, `mtls.identity.unexpected`), built from the same
 * {@link IdentityAuditEvent} as the audit line and `onEvent`.
 *
 * Severity: `INFO` for `first_seen` and `rotation` (expected in a healthy fleet, worth keeping),
 * `WARN` for `unexpected` (a verified client that `expected` does not list).
 *
 * Attributes: the certificate's as on the span (`tls.client.*`, `mtls.client.serial_number`,
 * `mtls.client.spiffe_id`, through the same builder), `mtls.client.source`, `client.address`, and
 * per kind `mtls.unexpected.reason` and `mtls.expected.mode`, or `mtls.rotation.by` and the previous
 * certificate's `mtls.rotation.previous.serial_number` and `mtls.rotation.previous.hash.sha256`.
 * Every string is log-safe and bounded by `MAX_LOG_FIELD_LENGTH`.
 */
import type { IdentityAuditEvent, IdentityAuditEventType } from '../identity/seen-identities.js';
import { boundedLogText } from '../internal/log-safe.js';
import { eventTime } from '../internal/log-date.js';
import { AUDIT_EVENT_TITLES } from './identity-audit.js';
import type { LogSeverityText, MtlsLogRecord } from './log-records.js';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_MTLS_CLIENT_SOURCE,
  ATTR_MTLS_EXPECTED_MODE,
  ATTR_MTLS_ROTATION_BY,
  ATTR_MTLS_ROTATION_PREVIOUS_HASH_SHA256,
  ATTR_MTLS_ROTATION_PREVIOUS_SERIAL_NUMBER,
  ATTR_MTLS_UNEXPECTED_REASON,
  EVENT_MTLS_IDENTITY_FIRST_SEEN,
  EVENT_MTLS_IDENTITY_ROTATION,
  EVENT_MTLS_IDENTITY_UNEXPECTED,
} from './semconv.js';
import { certificateAttributes } from './tracing.js';

const EVENT_NAMES: Readonly<Record<IdentityAuditEventType, string>> = {
  first_seen: EVENT_MTLS_IDENTITY_FIRST_SEEN,
  rotation: EVENT_MTLS_IDENTITY_ROTATION,
  unexpected: EVENT_MTLS_IDENTITY_UNEXPECTED,
};

const SEVERITIES: Readonly<Record<IdentityAuditEventType, LogSeverityText>> = {
  first_seen: 'INFO',
  rotation: 'INFO',
  unexpected: 'WARN',
};

/** The log record of `event`. */
export function identityAuditRecord(event: IdentityAuditEvent): MtlsLogRecord {
  const attributes: Record<string, string> = certificateAttributes(event);
  attributes[ATTR_MTLS_CLIENT_SOURCE] = boundedLogText(event.source);
  set(attributes, ATTR_CLIENT_ADDRESS, event.remoteAddress);
  set(attributes, ATTR_MTLS_UNEXPECTED_REASON, event.reason);
  set(attributes, ATTR_MTLS_EXPECTED_MODE, event.mode);
  set(attributes, ATTR_MTLS_ROTATION_BY, event.rotatedBy);
  set(attributes, ATTR_MTLS_ROTATION_PREVIOUS_SERIAL_NUMBER, event.previousSerialNumber);
  set(attributes, ATTR_MTLS_ROTATION_PREVIOUS_HASH_SHA256, event.previousFingerprint256);
  const title = AUDIT_EVENT_TITLES[event.type];
  return {
    eventName: EVENT_NAMES[event.type],
    severity: SEVERITIES[event.type],
    body: event.reason === undefined ? title : `${title}: ${boundedLogText(event.reason)}`,
    time: eventTime(event.time),
    attributes,
  };
}

function set(attributes: Record<string, string>, name: string, value: string | undefined): void {
  if (typeof value === 'string' && value.length > 0) attributes[name] = boundedLogText(value);
}
