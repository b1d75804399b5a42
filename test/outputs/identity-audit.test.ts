/**
 * The identity audit line: exact text and JSON forms, and log safety with a real certificate whose
 * subject carries a forged log line (and a bidi override, a long name).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { formatIdentityAuditEvent } from '../../lib/outputs/identity-audit.js';
import { auditEvent } from '../../lib/identity/seen-identities.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { TRUNCATION_MARKER } from '../../lib/internal/log-safe.js';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

const TIME = new Date('2026-12-01T23:40:00.123Z');

test('unexpected, text and JSON: reason and mode, no SPIFFE ID prints "-" / is left out', async () => {
  const cert = parseCertificate(
    (await pki.ca.issue({ subject: 'intruder', serialNumber: 0x1234n, notAfter: new Date('2030-01-01T00:00:00Z') })).der,
  );
  const event = auditEvent('unexpected', 'envoy-xfcc', cert, TIME, { reason: 'subject', mode: 'observe', remoteAddress: '10.0.0.7' });
  assert.equal(
    formatIdentityAuditEvent(event, 'text'),
    '10.0.0.7 - - [01/Dec/2026:23:40:00 +0000] "mTLS client unexpected" event=unexpected reason=subject mode=observe source=envoy-xfcc' +
      ' subject=CN=intruder issuer=CN=mtls-observability\\20development\\20CA serial=1234 spiffe=-' +
      ` not_after=2030-01-01T00:00:00.000Z fingerprint=${cert.fingerprint256}`,
  );
  assert.equal(
    formatIdentityAuditEvent(event, 'json'),
    '{"time":"2026-12-01T23:40:00.123Z","event":"mtls_client_unexpected","remote_addr":"10.0.0.7","reason":"subject","mode":"observe",' +
      '"source":"envoy-xfcc","peer_cert_subject":"CN=intruder","peer_cert_issuer":"CN=mtls-observability development CA",' +
      `"peer_cert_serial":"1234","peer_cert_not_after":"2030-01-01T00:00:00.000Z","peer_cert_fingerprint":"${cert.fingerprint256}"}`,
  );
  // Without a remote address the text line starts with "-".
  assert.match(formatIdentityAuditEvent(auditEvent('first_seen', 'tls', cert, TIME), 'text'), /^- - - \[01\/Dec\/2026:23:40:00 \+0000\] "mTLS client first seen" event=first_seen source=tls /);
});

test('a hostile subject cannot split or forge a line, in either form', () => {
  const cert = parseCertificate(pki.clients.hostile.der);
  const event = auditEvent('first_seen', 'tls', cert, TIME, { remoteAddress: '127.0.0.1' });
  const text = formatIdentityAuditEvent(event, 'text');
  assert.equal(
    text,
    '127.0.0.1 - - [01/Dec/2026:23:40:00 +0000] "mTLS client first seen" event=first_seen source=tls' +
      ' subject=CN=mallory\\5C\\22\\5C0A127.0.0.1\\20-\\20admin\\20[27/Nov/2026:00:00:00\\20\\5C+0000]\\20\\5C\\22GET\\20/admin\\20HTTP/1.1\\5C\\22\\20200\\200\\20\\5C\\22\\5C\\5C,O=mtls-observability\\20demo' +
      ` issuer=CN=mtls-observability\\20development\\20CA serial=${cert.serialNumber} spiffe=- not_after=${cert.notAfter.toISOString()} fingerprint=${cert.fingerprint256}`,
  );
  assert.ok(!/[\n\r"]/.test(text.slice(text.indexOf('event='))));
  const json = formatIdentityAuditEvent(event, 'json');
  assert.ok(!json.includes('\n'));
  assert.equal((JSON.parse(json) as { peer_cert_subject: string }).peer_cert_subject, cert.subject);
});

test('bidi controls are escaped, long fields are cut with the marker', async () => {
  const cert = parseCertificate((await pki.ca.issue({ subject: `evil\u202Egnp.exe${'x'.repeat(2000)}` })).der);
  const text = formatIdentityAuditEvent(auditEvent('first_seen', 'tls', cert, TIME), 'text');
  const subject = /subject=(\S+)/.exec(text)![1]!;
  assert.ok(subject.startsWith('CN=evil\\5CE2\\5C80\\5CAEgnp.exe'), subject.slice(0, 40));
  assert.ok(subject.endsWith(TRUNCATION_MARKER));
  assert.equal(subject.length, 1024 + TRUNCATION_MARKER.length);
  const json = formatIdentityAuditEvent(auditEvent('first_seen', 'tls', cert, TIME), 'json');
  assert.ok(!json.includes('\u202E'));
});
