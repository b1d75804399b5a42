/**
 * What a run found, as numbers and verdicts: the end-to-end ratios from the measured windows, the
 * goals, and the printed report. Pure (no I/O), so `npm test` checks it without a run.
 */
import type { CostKey, InProcessReport } from './in-process.js';
import type { MemoryReport } from './memory.js';
import { fixed, formatTable, halfIqr, median, signed } from './stats.js';
import { MODES, PEERS, VARIANTS, type ModeName, type VariantName } from './variants.js';

/** One server serving one mode alone for one window. */
export interface Window {
  readonly round: number;
  readonly mode: ModeName;
  readonly variant: VariantName;
  readonly requests: number;
  readonly errors: number;
  readonly elapsedMs: number;
  /** The server's CPU time in the window. */
  readonly cpuMicros: number;
  /** Certificates the library parsed in the window (library variants). */
  readonly parses: number;
  readonly connections: number;
  readonly resumed: number;
}

export interface Cell {
  readonly mode: ModeName;
  readonly variant: VariantName;
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly cpuMicrosPerRequest: number;
  /** Median over rounds of reference CPU per request ÷ this variant's (1 = same cost, higher = cheaper). */
  readonly ratio: number;
  /** Half the interquartile range of the per-round ratios. */
  readonly spread: number;
  readonly rpsRatio: number;
  readonly parsesPerRequest: number;
  readonly resumedShare: number;
}

/** The library (`mtls`) against a peer: median over rounds of peer CPU per request ÷ the library's. */
export interface PeerRatio {
  readonly mode: ModeName;
  readonly peer: VariantName;
  readonly ratio: number;
  readonly spread: number;
}

export interface Results {
  readonly startedAt: string;
  readonly environment: string;
  readonly settings: string;
  readonly inProcess?: InProcessReport;
  readonly windows: readonly Window[];
  readonly memory?: MemoryReport;
  readonly problems: readonly string[];
}

const perRequest = (w: Window) => w.cpuMicros / Math.max(1, w.requests);

/** Per round, `numerator`'s CPU per request ÷ `denominator`'s, where both served that round. */
function roundRatios(windows: readonly Window[], mode: ModeName, numerator: VariantName, denominator: VariantName, amount = perRequest): number[] {
  const of = (v: VariantName) => new Map(windows.filter((w) => w.mode === mode && w.variant === v).map((w) => [w.round, w]));
  const top = of(numerator);
  return [...of(denominator)].flatMap(([round, w]) => (top.has(round) ? [amount(top.get(round)!) / amount(w)] : []));
}

export function tabulate(windows: readonly Window[]): Cell[] {
  const cells: Cell[] = [];
  for (const mode of Object.keys(MODES) as ModeName[]) {
    for (const variant of Object.keys(VARIANTS) as VariantName[]) {
      const mine = windows.filter((w) => w.mode === mode && w.variant === variant);
      if (mine.length === 0) continue;
      const sum = (f: (w: Window) => number) => mine.reduce((a, w) => a + f(w), 0);
      const ratios = roundRatios(windows, mode, 'ref', variant);
      const rate = (w: Window) => w.elapsedMs / Math.max(1, w.requests);
      cells.push({
        mode,
        variant,
        requests: sum((w) => w.requests),
        errors: sum((w) => w.errors),
        rps: (sum((w) => w.requests) * 1000) / sum((w) => w.elapsedMs),
        cpuMicrosPerRequest: median(mine.map(perRequest)),
        ratio: median(ratios),
        spread: halfIqr(ratios),
        rpsRatio: median(roundRatios(windows, mode, 'ref', variant, rate)),
        parsesPerRequest: variant.startsWith('mtls') ? sum((w) => w.parses) / Math.max(1, sum((w) => w.requests)) : Number.NaN,
        resumedShare: sum((w) => w.connections) ? sum((w) => w.resumed) / sum((w) => w.connections) : Number.NaN,
      });
    }
  }
  return cells;
}

export function peerRatios(windows: readonly Window[]): PeerRatio[] {
  return (Object.keys(MODES) as ModeName[]).flatMap((mode) =>
    PEERS.flatMap((peer) => {
      const ratios = roundRatios(windows, mode, peer, 'mtls');
      return ratios.length ? [{ mode, peer, ratio: median(ratios), spread: halfIqr(ratios) }] : [];
    }),
  );
}

/** The end-to-end bars, and how far the A/A control may stray from 1 for a verdict to be firm. */
export const LIBRARY_MIN_RATIO = 0.95;
export const FIRM_CONTROL_ERROR = 0.02;
/** Heap growth between the first and the last point of a memory series that still counts as "a few MB". */
export const HEAP_GROWTH_LIMIT_MB = 4;
/**
 * In-process bars, µs, on medians. The keep-alive bar is on what the library adds to morgan's own
 * combined tokens (the reference pays those too); the worst input's bar on the median of the
 * slowest hostile kind (single samples carry GC pauses and the host's preemption).
 */
export const COST_GOALS: Partial<Record<CostKey, number>> = { keepalive: 2, newConnectionKnownCert: 60, newCertTypical: 20, newCertWorst: 1000 };

export interface Verdict {
  readonly met: boolean;
  /** Whether the machine could tell: the A/A control within ±2% and further from 1 than the margin. */
  readonly firm: boolean;
  readonly text: string;
}

/**
 * A ratio's verdict against its bar. Firm only when the A/A control of the same mode is within
 * ±{@link FIRM_CONTROL_ERROR} of 1 and the ratio is further from the bar than the control is from 1.
 */
export function ratioVerdict(text: string, ratio: number, bar: number, control: number): Verdict {
  const error = Math.abs(control - 1);
  const firm = Number.isFinite(ratio) && error <= FIRM_CONTROL_ERROR && Math.abs(ratio - bar) > error;
  const why = !Number.isFinite(control) ? 'no A/A control' : `A/A ${fixed(control, 3)}x`;
  return { met: ratio >= bar, firm, text: `${text}: ${fixed(ratio, 3)}x (bar ${fixed(bar, 2)}x, ${why})` };
}

export function verdicts(results: Results): Verdict[] {
  const out: Verdict[] = [];
  const rows = results.inProcess?.rows ?? [];
  const medianOf = (key: CostKey) => rows.find((r) => r.key === key)?.medianMicros ?? Number.NaN;
  for (const [key, bar] of Object.entries(COST_GOALS) as [CostKey, number][]) {
    const row = rows.find((r) => r.key === key);
    if (!row) continue;
    const value = key === 'keepalive' ? row.medianMicros - medianOf('morganCombined') : row.medianMicros;
    const what = key === 'keepalive' ? `${fixed(row.medianMicros, 2)} µs − morgan's combined ${fixed(medianOf('morganCombined'), 2)} µs = ` : '';
    const read = key === 'newConnectionKnownCert' ? `, of which Node's getPeerCertificate() ${fixed(medianOf('getPeerCertificate'), 2)} µs` : '';
    out.push({ met: value <= bar, firm: Math.abs(value - bar) > row.spreadMicros, text: `in-process ${key}: ${what}${fixed(value, 2)} µs${read} (goal ≤ ${bar} µs, ± ${fixed(row.spreadMicros, 2)})` });
  }
  const cells = tabulate(results.windows);
  const control = (mode: ModeName) => cells.find((c) => c.mode === mode && c.variant === 'control')?.ratio ?? Number.NaN;
  for (const c of cells) {
    if (c.variant !== 'mtls' && c.variant !== 'mtlsMetrics') continue;
    out.push(ratioVerdict(`${MODES[c.mode]}: ${VARIANTS[c.variant]} vs the reference`, c.ratio, LIBRARY_MIN_RATIO, control(c.mode)));
  }
  for (const p of peerRatios(results.windows)) {
    out.push(ratioVerdict(`${MODES[p.mode]}: the library beats ${p.peer} (peer CPU ÷ library CPU)`, p.ratio, 1, control(p.mode)));
  }
  for (const s of results.memory?.series ?? []) {
    // From the point where the caches are full (1,000 certificates) to the last one.
    const first = s.points.find((p) => p.count >= 1000);
    const last = s.points.at(-1);
    if (!first || !last || first === last) continue;
    const growth = last.heapMB - first.heapMB;
    out.push({
      met: growth <= HEAP_GROWTH_LIMIT_MB,
      firm: true,
      text: `memory, ${s.label}: heap after ${last.count} ${signed(growth, 2)} MB against after ${first.count} (goal ≤ ${HEAP_GROWTH_LIMIT_MB} MB)`,
    });
  }
  const cache = results.memory?.cache;
  if (cache) out.push({ met: cache.entries <= cache.maxEntries, firm: true, text: `memory: certificate cache ${cache.entries} ≤ ${cache.maxEntries} entries` });
  return out;
}

export function formatReport(results: Results, seconds: number): string {
  const out = [`mtls-observability bench — ${results.environment}, ${results.startedAt}`, results.settings, ''];
  if (results.inProcess) {
    out.push("1. The library's own cost, in one process over real TLS sockets (µs; ± = half the interquartile range)");
    // How each row was timed is in the JSON (`timing`) and in docs/performance.md.
    const rows = results.inProcess.rows.map((r) => [r.label, fixed(r.medianMicros, 2), fixed(r.spreadMicros, 2), fixed(r.maxMicros, 1), String(r.samples), COST_GOALS[r.key] ? `≤ ${COST_GOALS[r.key]}` : '']);
    out.push(formatTable(['cost', 'median', '±', 'max', 'samples', 'goal'], rows), ...results.inProcess.notes.map((n) => `  ${n}`), '');
  }
  const cells = tabulate(results.windows);
  if (cells.length) {
    out.push('2. End to end: CPU per request of the server, one server at a time on its core; ratio = reference ÷ this row (higher is cheaper)');
    const rows = cells.map((c) => [
      MODES[c.mode],
      VARIANTS[c.variant],
      fixed(c.rps, 0),
      fixed(c.cpuMicrosPerRequest, 1),
      c.variant === 'ref' ? '1.00x' : `${fixed(c.ratio, 3)}x`,
      c.variant === 'ref' ? '' : fixed(c.spread, 3),
      c.variant === 'ref' ? '1.00x' : `${fixed(c.rpsRatio, 3)}x`,
      Number.isFinite(c.parsesPerRequest) ? fixed(c.parsesPerRequest, 2) : '',
    ]);
    out.push(formatTable(['mode', 'variant', 'req/s', 'CPU µs/req', 'ratio', '±', 'req/s ratio', 'parses/req'], rows));
    const control = cells.filter((c) => c.variant === 'control');
    out.push(`A/A control (ideal 1.000x): ${control.map((c) => `${MODES[c.mode]} ${fixed(c.ratio, 3)}x ± ${fixed(c.spread, 3)}`).join('; ')}`);
    const resumed = cells.filter((c) => c.mode === 'resume').map((c) => c.resumedShare);
    if (resumed.length) out.push(`resumption: at least ${fixed(Math.min(...resumed) * 100, 1)}% of the connections resumed a session`);
    out.push(`errors: ${cells.reduce((a, c) => a + c.errors, 0)}`, '');
    const peers = peerRatios(results.windows);
    if (peers.length) {
      out.push('3. The library (+ mtlsIdentity() + mtls-combined) against the peers: peer CPU per request ÷ the library\'s (above 1.00x the library is cheaper)');
      out.push(formatTable(['mode', 'peer', 'ratio', '±'], peers.map((p) => [MODES[p.mode], VARIANTS[p.peer], `${fixed(p.ratio, 3)}x`, fixed(p.spread, 3)])), '');
    }
  }
  if (results.memory) {
    out.push('4. Heap after distinct certificates through the library\'s cache (after forced GC)');
    for (const s of results.memory.series) out.push(`  ${s.label} (${s.certificateBytes} bytes each): ${s.points.map((p) => `after ${p.count}: ${fixed(p.heapMB, 2)} MB`).join(', ')}`);
    const c = results.memory.cache;
    out.push(`  certificate cache at the end: ${c.entries} of ${c.maxEntries} entries${c.bytes !== undefined ? `, ${c.bytes} of ${c.maxBytes ?? '?'} bytes` : ''}`);
    out.push(...results.memory.notes.map((n) => `  ${n}`), '');
  }
  out.push(...results.problems.map((p) => `not measured: ${p}`));
  out.push('verdicts (firm = the A/A control of that mode is within ±2% and further from 1 than the ratio is from its bar):');
  for (const v of verdicts(results)) out.push(`  ${v.met ? 'MET   ' : 'MISSED'} ${v.firm ? 'firm     ' : 'not firm '} ${v.text}`);
  out.push(`(${seconds.toFixed(0)} s)`);
  return out.join('\n');
}
