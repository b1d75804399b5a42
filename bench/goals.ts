/** The performance goals of issue 5, read from a benchmark run's results. */
import type { ModeName, VariantName } from './variants.js';
import { fixed, signed } from './stats.js';

export interface CellResult {
  mode: ModeName;
  variant: VariantName;
  reference: VariantName;
  requests: number;
  errors: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  cpuMicrosPerRequest: number;
  /** Rounds the ratio is the median of. */
  ratioRounds: number;
  /** Whether those were the quiet rounds (else: all rounds, the machine was busy). */
  quiet: boolean;
  /** Median share of the machine used by other processes during this row's windows. */
  otherLoad: number;
  /** Median over generations of reference CPU/request ÷ this variant's CPU/request, each pooled over the generation's windows. */
  cpuRatio: number;
  /** Half the interquartile range of the per-round ratios. */
  cpuRatioSpread: number;
  /** Median over rounds of this variant's requests/s ÷ the reference's. */
  rpsRatio: number;
  resumedShare: number;
  /** Certificates parsed per request (identity variants; NaN for the others). */
  parsesPerRequest: number;
  /** With `--counters`: each event per request (median over rounds). */
  countersPerRequest?: Record<string, number>;
  /** With `--counters`: reference ÷ this variant per event, pooled per generation like `cpuRatio`. */
  counterRatios?: Record<string, number>;
}

export interface MemoryReport {
  /** parseCertificate on a certificate never seen before, median µs. */
  parseMicros: number;
  /** The library's cache path for a certificate it has not seen (hash, parse, insert), median µs. */
  missMicros: number;
  /** The same path for a certificate in the cache, median µs. */
  hitMicros: number;
  smallCount: number;
  largeCount: number;
  /** Heap with the middleware and its caches built and (almost) empty. */
  heapEmptyMB: number;
  heapSmallMB: number;
  /** A point past every bounded record (when the run feeds that many certificates). */
  midCount?: number;
  heapMidMB?: number;
  heapLargeMB: number;
  cacheEntries?: number;
  cacheCapacity?: number;
  /** The library's own µs per request on an already identified connection, in-process. */
  perRequest?: Record<string, number>;
  /** Node's cost of reading the peer certificate on a new connection, median µs. */
  perConnection?: Record<string, number>;
  notes: string[];
}

export interface Results {
  cells: CellResult[];
  options: {
    quick: boolean;
    rounds: number;
    durationMs: number;
    warmupMs: number;
    /** Keep-alive requests per server before the first round. */
    warmupRequests: number;
    /** Connections per handshake mode before the first round. */
    warmupConnections: number;
    initialWarmupMs: number;
    maxWaitMs: number;
    minRequests: number;
    pool: number;
    concurrency: number;
    memoryCerts: number;
    pin: boolean;
    memory: boolean;
    /** Sets of fresh server processes the rounds were split over. */
    generations: number;
    /** How a variant and its reference shared a window. */
    pairing: 'alternate' | 'simultaneous' | 'turns';
    /** Turn length of `--pairing turns`, ms. */
    turnMs: number;
    /** `perf stat` events counted per server and window (`--counters`), if any. */
    counters?: string[];
  };
  unavailable: Record<string, string>;
  /** Time spent waiting for a quiet machine. */
  waitedMs?: number;
  /** Every measured window, for analysis. */
  windows?: {
    round: number;
    generation: number;
    mode: ModeName;
    variant: VariantName;
    partner: VariantName;
    requests: number;
    elapsedMs: number;
    cpuMicros: number;
    loadCpuMicros: number;
    otherLoad: number;
    /** With `--counters`: what `perf stat` counted in the server process during the window. */
    counters?: Record<string, number>;
  }[];
  memory?: MemoryReport;
  memoryError?: string;
}

export interface Goal {
  readonly text: string;
  readonly mode?: ModeName;
  readonly variant?: VariantName;
  readonly min?: number;
}

/** Heap growth from 1,000 to 100,000 distinct certificates that still counts as "a few MB". */
export const HEAP_GROWTH_LIMIT_MB = 4;

export const GOALS: readonly Goal[] = [
  { text: 'keep-alive: identity + tokens + metrics ≥ 0.98x the reference', mode: 'keepalive', variant: 'mtlsMetrics', min: 0.98 },
  { text: 'new handshake per request, same certificate: ≥ 0.97x', mode: 'handshakeSame', variant: 'mtlsMetrics', min: 0.97 },
  { text: 'new handshake per request, distinct certificate: ≥ 0.90x', mode: 'handshakeDistinct', variant: 'mtlsMetrics', min: 0.9 },
  { text: 'tracing on (keep-alive): the middleware adds ≤ 2% over the tracing reference (≥ 0.980x)', mode: 'keepalive', variant: 'traceMtls', min: 1 / 1.02 },
];

export interface GoalStatus {
  readonly status: 'MET' | 'MISSED' | 'UNKNOWN';
  readonly text: string;
}

export function evaluateGoals(results: Results): GoalStatus[] {
  const out: GoalStatus[] = [];
  for (const goal of GOALS) {
    const cell = results.cells.find((c) => c.mode === goal.mode && c.variant === goal.variant);
    if (!cell || !Number.isFinite(cell.cpuRatio)) {
      out.push({ status: 'UNKNOWN', text: `${goal.text}: not measured` });
      continue;
    }
    // The verdict reads the median; when the bar lies inside the run's own spread, say so.
    const close = Math.abs(cell.cpuRatio - goal.min!) <= cell.cpuRatioSpread;
    out.push({
      status: cell.cpuRatio >= goal.min! ? 'MET' : 'MISSED',
      text:
        `${goal.text}: ${fixed(cell.cpuRatio, 3)}x ± ${fixed(cell.cpuRatioSpread, 3)} (req/s ratio ${fixed(cell.rpsRatio, 3)}x)` +
        (close ? '; the bar is within this run\'s spread, so the verdict is not firm' : ''),
    });
  }
  const m = results.memory;
  if (!m) {
    out.push({ status: 'UNKNOWN', text: `memory: not measured${results.memoryError ? ` (${results.memoryError})` : ''}` });
  } else {
    const growth = m.heapLargeMB - m.heapSmallMB;
    const bounded = m.cacheEntries === undefined || m.cacheCapacity === undefined || m.cacheEntries <= m.cacheCapacity;
    out.push({
      status: growth <= HEAP_GROWTH_LIMIT_MB && bounded ? 'MET' : 'MISSED',
      text:
        `memory: heap after ${m.largeCount} distinct certificates within ${HEAP_GROWTH_LIMIT_MB} MB of the heap after ${m.smallCount} ` +
        `(${signed(growth, 2)} MB), cache ${m.cacheEntries ?? '?'} ≤ ${m.cacheCapacity ?? '?'} entries`,
    });
  }
  return out;
}
