import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardOnce } from '../../lib/internal/warn-once.js';
import { captureWarnings } from '../helpers/warnings.js';

test('a guarded function never throws; its first failure is reported once as a warning', async () => {
  let calls = 0;
  const warnings = await captureWarnings(async () => {
    const guarded = guardOnce('mtlsIdentity()', 'the test output', (value: number) => {
      calls += value;
      throw new Error('boom');
    });
    guarded(1);
    guarded(2);
    await new Promise((resolve) => setImmediate(resolve));
  });
  assert.equal(calls, 3);
  assert.deepEqual(
    warnings.map((w) => [w.name, w.code, w.message]),
    [['Warning', 'MTLS_OBSERVER_ERROR', 'mtlsIdentity(): the test output threw and was skipped: boom']],
  );
});
