/**
 * Dates as log lines, JSON lines, span attributes and identity JSON show them: the one owner of
 * how a date is written, so every output agrees. Machine-read places (JSON, attributes) get ISO
 * 8601 in UTC with milliseconds (`2026-11-27T07:57:50.000Z`); text lines that sit beside morgan's
 * get its `:date[clf]` form (`27/Nov/2026:07:57:50 +0000`).
 */

/** `date` as ISO 8601 UTC (`Date#toISOString`), or `undefined` when it is not a valid Date (the field is left out or prints `-`). */
export function logDate(date: Date): string | undefined {
  return isValidDate(date) ? date.toISOString() : undefined;
}

/** When an event happened as a log line needs it: `date` when it is a valid Date, else now (a log line always has a time). */
export function eventTime(date: Date): Date {
  return isValidDate(date) ? date : new Date();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** morgan's `:date[clf]`: `27/Nov/2026:07:50:01 +0000` (UTC). */
export function clfDate(date: Date): string {
  return (
    `${pad2(date.getUTCDate())}/${MONTHS[date.getUTCMonth()] ?? '???'}/${date.getUTCFullYear()}` +
    `:${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} +0000`
  );
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

// A hand-built identity or failure can carry anything where a Date belongs.
function isValidDate(date: unknown): date is Date {
  return date instanceof Date && !Number.isNaN(date.getTime());
}
