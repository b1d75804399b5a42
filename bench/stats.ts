/** Pure helpers for the benchmark's numbers and its printed table (unit-tested, no I/O). */

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** `items` rotated by `round`: over n rounds every item takes every position once (drift hits all alike). */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  return items.map((_, i) => items[(i + round) % n]!);
}

export type Cell = string | number;

/** Formats rows as a fixed-width text table with a header rule; numbers right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (c: Cell) => (typeof c === 'number' ? String(c) : c);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i] ?? '').length)));
  const line = (cells: readonly Cell[], numeric: (i: number) => boolean) =>
    cells
      .map((c, i) => (numeric(i) ? text(c).padStart(widths[i]!) : text(c).padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const isNumericColumn = (i: number) => rows.some((r) => typeof r[i] === 'number' || /^(n\/a|[\d.]+[x%*]?)$/.test(String(r[i])));
  return [
    line(header, isNumericColumn),
    widths.map((w) => '-'.repeat(w)).join('-|-'),
    ...rows.map((r) => line(r, isNumericColumn)),
  ].join('\n');
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function signed(value: number, digits: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(digits)}` : 'n/a';
}

/** Half the interquartile range: a robust "±" for a median. */
export function halfIqr(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length < 2) return Number.NaN;
  const q = (p: number) => {
    const x = p * (sorted.length - 1);
    const lo = Math.floor(x);
    return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (x - lo);
  };
  return (q(0.75) - q(0.25)) / 2;
}

/**
 * `items` in an order drawn from `seed` (Fisher–Yates over a small LCG): the same seed gives the
 * same order, and unlike a rotation no item always follows the same other one.
 */
export function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = (seed * 2654435761 + 1) >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    // The high bits: an LCG's low bits repeat with short periods.
    const j = Math.floor((state / 2 ** 32) * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
