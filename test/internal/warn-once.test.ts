import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardOnce } from '../../lib/internal/warn-once.js';

test('a guarded function never throws; its first failure is reported once as a warning', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  try {
    let calls = 0;
    const guarded = guardOnce('mtlsIdentity()', 'the test output', (value: number) => {
      calls += value;
      throw new Error('boom');
    });
    guarded(1);
    guarded(2);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 3);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.message, 'mtlsIdentity(): the test output threw and was skipped: boom');
    assert.equal((warnings[0] as Error & { code?: string }).code, 'MTLS_OBSERVER_ERROR');
  } finally {
    process.off('warning', onWarning);
  }
});
