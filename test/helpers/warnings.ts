/**
 * Expected process warnings, captured by the test that causes them instead of printed into the
 * test output (where they would read like a failure): Node prints warnings through its own
 * 'warning' listener, which is detached while `fn` runs and put back afterwards.
 */

/** A process warning as `process.emitWarning` builds it. */
export type ProcessWarning = Error & { readonly code?: string };

/**
 * Runs `fn` with process warnings collected into the array it receives (live, so `fn` can wait
 * for one), and returns them once the warnings emitted during `fn` have been delivered.
 */
export async function captureWarnings(fn: (warnings: readonly ProcessWarning[]) => Promise<void>): Promise<ProcessWarning[]> {
  const warnings: ProcessWarning[] = [];
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  const capture = (warning: Error): void => void warnings.push(warning);
  process.on('warning', capture);
  try {
    await fn(warnings);
    // emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', capture);
    for (const printer of printers) process.on('warning', printer);
  }
  return warnings;
}
