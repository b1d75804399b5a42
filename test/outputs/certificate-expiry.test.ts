import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertificate } from '../../lib/certificate/parse.js';
import type { PeerCertificate } from '../../lib/certificate/peer-certificate.js';
import {
  CERTIFICATE_EXPIRY_OPTION_CHECKS,
  DEFAULT_EXPIRY_WARNING_SECONDS,
  DEFAULT_RECENT_CERTIFICATE_SECONDS,
  MAX_RECENT_CERTIFICATES,
  RecentCertificates,
  summarizeExpiry,
} from '../../lib/outputs/certificate-expiry.js';
import { validateOptions } from '../../lib/internal/options.js';
import { getTestPki } from '../helpers/pki.js';

let valid: PeerCertificate;
let expired: PeerCertificate;
let notYetValid: PeerCertificate;
before(async () => {
  const pki = await getTestPki();
  valid = parseCertificate(pki.clients.valid.der);
  expired = parseCertificate(pki.clients.expired.der);
  notYetValid = parseCertificate(pki.clients.notYetValid.der);
});

const HOUR = 3_600_000;

test('defaults: 7 days of warning, 24 hours of recency, 10,000 certificates', () => {
  assert.deepEqual(
    [DEFAULT_EXPIRY_WARNING_SECONDS, DEFAULT_RECENT_CERTIFICATE_SECONDS, MAX_RECENT_CERTIFICATES],
    [604_800, 86_400, 10_000],
  );
});

test('summarizeExpiry: the soonest expiry in whole seconds and the certificates within the warning window', () => {
  const now = Date.now();
  const record = new RecentCertificates();
  record.add(valid, now);
  record.add(expired, now);
  assert.deepEqual(summarizeExpiry([record], now), {
    minTimeLeftSeconds: Math.floor((expired.notAfter.getTime() - now) / 1000),
    expiring: 1,
    clientNotAfter: new Map(),
  });
  assert.deepEqual(summarizeExpiry([new RecentCertificates()], now), {
    minTimeLeftSeconds: undefined,
    expiring: 0,
    clientNotAfter: new Map(),
  });
});

test('summarizeExpiry: a certificate in two records counts once; each record applies its own warning window', () => {
  const now = Date.now();
  const wide = new RecentCertificates({ expiryWarningSeconds: 10 * 366 * 86_400 });
  const narrow = new RecentCertificates();
  wide.add(valid, now);
  narrow.add(valid, now);
  narrow.add(expired, now);
  assert.equal(summarizeExpiry([narrow], now).expiring, 1);
  assert.equal(summarizeExpiry([wide, narrow], now).expiring, 2);
  assert.equal(summarizeExpiry([narrow, narrow], now).expiring, 1);
});

test('a certificate not seen for recentCertificateSeconds leaves the record; seeing it again keeps it', () => {
  const start = Date.now();
  const record = new RecentCertificates({ recentCertificateSeconds: 3600 });
  record.add(valid, start);
  record.add(notYetValid, start);
  record.add(valid, start + HOUR);
  assert.deepEqual([...record.current(start + HOUR + 1)], [[valid.fingerprint256, valid.notAfter.getTime(), undefined]]);
  assert.deepEqual([...record.current(start + 2 * HOUR + 1)], []);
});

test('summarizeExpiry: per client label, the soonest notAfter of its certificates seen recently, across records', () => {
  const now = Date.now();
  const a = new RecentCertificates({ recentCertificateSeconds: 3600 });
  const b = new RecentCertificates();
  a.add(valid, now - 2 * HOUR, 'old');
  a.add(valid, now, 'alice');
  a.add(notYetValid, now, 'alice');
  a.add(expired, now);
  b.add(expired, now, 'bob');
  b.add(notYetValid, now, 'bob');
  // The same fingerprint re-seen under another label belongs to the latest one; unlabelled ones to none.
  assert.deepEqual(
    summarizeExpiry([a, b], now).clientNotAfter,
    new Map([
      ['alice', Math.min(valid.notAfter.getTime(), notYetValid.notAfter.getTime())],
      ['bob', expired.notAfter.getTime()],
    ]),
  );
  // An hour later: what `a` saw has left its window; `b` (24 hours) still holds bob's.
  assert.deepEqual(summarizeExpiry([a, b], now + HOUR + 1).clientNotAfter, new Map([['bob', expired.notAfter.getTime()]]));
});

test('option checks: whole seconds within bounds', () => {
  assert.throws(() => validateOptions('f()', { expiryWarningSeconds: 0 }, CERTIFICATE_EXPIRY_OPTION_CHECKS), {
    name: 'TypeError',
    message: 'f(): option "expiryWarningSeconds" must be an integer from 1 to 316224000, got 0.',
  });
  assert.throws(() => validateOptions('f()', { recentCertificateSeconds: 1.5 }, CERTIFICATE_EXPIRY_OPTION_CHECKS), {
    name: 'TypeError',
    message: 'f(): option "recentCertificateSeconds" must be an integer from 1 to 31622400, got 1.5.',
  });
});
