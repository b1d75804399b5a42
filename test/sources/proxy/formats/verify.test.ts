import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderError } from '../../../../lib/sources/proxy/formats/format.js';
import { forwardedOutcome, opensslVerifyReason, parseVerifyValue } from '../../../../lib/sources/proxy/formats/verify.js';

test('parseVerifyValue: nginx vocabulary maps to Node code names', () => {
  assert.deepEqual(parseVerifyValue('SUCCESS'), { kind: 'success' });
  assert.deepEqual(parseVerifyValue('NONE'), { kind: 'none' });
  assert.deepEqual(parseVerifyValue('FAILED'), { kind: 'failed', reason: 'PROXY_VERIFY_FAILED' });
  assert.deepEqual(parseVerifyValue('FAILED:certificate has expired'), { kind: 'failed', reason: 'CERT_HAS_EXPIRED' });
  assert.deepEqual(parseVerifyValue('FAILED:unable to verify the first certificate'), {
    kind: 'failed',
    reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
  assert.deepEqual(parseVerifyValue('FAILED:unsuitable certificate purpose'), { kind: 'failed', reason: 'INVALID_PURPOSE' });
  assert.deepEqual(parseVerifyValue('FAILED:self signed certificate'), { kind: 'failed', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  assert.deepEqual(parseVerifyValue('FAILED:self-signed certificate'), { kind: 'failed', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  // Free text never becomes a reason (reasons are metric attributes).
  assert.deepEqual(parseVerifyValue('FAILED:"><script>\\x0a'), { kind: 'failed', reason: 'PROXY_VERIFY_FAILED' });
});

test('parseVerifyValue: HAProxy numeric results', () => {
  assert.deepEqual(parseVerifyValue('0'), { kind: 'success' });
  assert.deepEqual(parseVerifyValue('10'), { kind: 'failed', reason: 'CERT_HAS_EXPIRED' });
  assert.deepEqual(parseVerifyValue('20'), { kind: 'failed', reason: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  assert.deepEqual(parseVerifyValue('9999'), { kind: 'failed', reason: 'PROXY_VERIFY_FAILED' });
  assert.equal(opensslVerifyReason(26), 'INVALID_PURPOSE');
});

test('parseVerifyValue: a rules engine boolean', () => {
  assert.deepEqual(parseVerifyValue('true'), { kind: 'success' });
  assert.deepEqual(parseVerifyValue('false'), { kind: 'failed', reason: 'PROXY_VERIFY_FAILED' });
});

test('parseVerifyValue: anything else is HEADER_INVALID', () => {
  for (const bad of ['', 'success', 'OK', 'True', '1.0', '-1', '12345', 'SUCCESS:x', 'FAILED x']) {
    assert.throws(() => parseVerifyValue(bad), (err: unknown) => err instanceof ProxyHeaderError && err.reason === 'HEADER_INVALID', bad);
  }
});

test('forwardedOutcome: verify header decides, absence per format policy', () => {
  const der = new Uint8Array([1]);
  assert.deepEqual(forwardedOutcome(der, 'SUCCESS', 'missing'), { kind: 'verified', der });
  assert.deepEqual(forwardedOutcome(undefined, '0', 'missing'), { kind: 'none' });
  assert.deepEqual(forwardedOutcome(undefined, 'NONE', 'missing'), { kind: 'none' });
  assert.deepEqual(forwardedOutcome(der, 'FAILED:certificate has expired', 'verified'), {
    kind: 'failed',
    reason: 'CERT_HAS_EXPIRED',
    der,
  });
  assert.deepEqual(forwardedOutcome(undefined, 'FAILED:certificate has expired', 'verified'), {
    kind: 'failed',
    reason: 'CERT_HAS_EXPIRED',
  });
  assert.throws(() => forwardedOutcome(der, 'NONE', 'verified'), ProxyHeaderError);
  assert.deepEqual(forwardedOutcome(der, undefined, 'verified'), { kind: 'verified', der });
  assert.deepEqual(forwardedOutcome(der, undefined, 'missing'), { kind: 'failed', reason: 'PROXY_VERIFY_MISSING', der });
  assert.deepEqual(forwardedOutcome(der, undefined, 'unverified'), { kind: 'failed', reason: 'PROXY_UNVERIFIED', der });
  assert.deepEqual(forwardedOutcome(undefined, undefined, 'missing'), { kind: 'none' });
});
