/**
 * The guard around user code and outputs on the request path: a throw is caught, and the first one
 * of each guard is reported as a process warning (code `MTLS_OBSERVER_ERROR`) instead of being
 * swallowed silently or breaking the request.
 */

/** Warning code of {@link guardOnce}'s report. */
export const GUARD_WARNING_CODE = 'MTLS_OBSERVER_ERROR';

/**
 * Returns `fn` wrapped so that it never throws. The first throw emits one warning:
 * `<owner>: <what> threw and was skipped: <message>`.
 */
export function guardOnce<A extends unknown[]>(owner: string, what: string, fn: (...args: A) => void): (...args: A) => void {
  let warned = false;
  return (...args) => {
    try {
      fn(...args);
    } catch (error) {
      if (warned) return;
      warned = true;
      try {
        process.emitWarning(`${owner}: ${what} threw and was skipped: ${error instanceof Error ? error.message : String(error)}`, {
          code: GUARD_WARNING_CODE,
        });
      } catch {
        // emitWarning itself can only fail in a broken process; the request still goes on.
      }
    }
  };
}
