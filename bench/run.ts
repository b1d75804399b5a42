/**
 * `npm run bench`: the mutual-TLS benchmark (issue 5).
 *
 * Two server processes per compared variant, the variant and its own copy of its reference (all
 * pinned to core 0 when `taskset` exists), and one load generator process (pinned to core 1)
 * presenting client certificates over loopback. Every window reads the
 * serving processes' own CPU clocks (process.cpuUsage) before and after, so "CPU µs per request" is
 * what a server spent. A window serves a variant and its reference at the same time, both on core 0
 * (--pairing simultaneous, the default), in turns of 50 ms within the window, each alone while it
 * works (--pairing turns), or one after the other, each alone (--pairing alternate). Rounds are
 * interleaved: each round visits every mode and every pair in a rotated order, and a variant's ratio
 * is the median over server generations of (reference CPU per request / variant CPU per request)
 * over the same windows.
 *
 * Flags: --quick (smoke run, ~30 s), --rounds N, --duration MS, --warmup MS (per window),
 *        --warmup-requests N, --warmup-connections C and --initial-warmup MS (per fresh server pair,
 *        before its first round: N keep-alive requests and C connections per handshake mode, each
 *        mode at least MS (an eighth of it per handshake mode)), --pool N,
 *        --generations N (fresh server processes N times over the rounds; default 4, --quick 1),
 *        --max-wait MS (total time to wait for a quiet machine before windows),
 *        --concurrency N, --json FILE (results as JSON), --no-pin, --no-memory,
 *        --modes a,b and --variants a,b (subsets, for profiling; names in bench/variants.ts),
 *        --solo-warmup (warm each server alone; with --rounds 0 and a long --initial-warmup, for profiles),
 *        --pairing simultaneous|turns|alternate and --turn MS (how a variant and its reference
 *        share a window; see docs/performance.md),
 *        --counters EVENTS (e.g. instructions,cycles: also count these with `perf stat` in every
 *        server over every window, and print them per request with their ratios).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { makeCertFiles } from './certs.js';
import { type Child, startBenchChild } from './child.js';
import { MODES, MODE_NAMES, VARIANTS, VARIANT_NAMES, type ModeName, type VariantName } from './variants.js';
import { fixed, signed, formatTable, halfIqr, median, percentile, roundOrder } from './stats.js';
import { CounterSession, counterProblem } from './counters.js';
import { GOALS, evaluateGoals, type MemoryReport, type Results, type CellResult } from './goals.js';
import type { WindowResult } from './load.js';

// ---------- options ----------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const value = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`bench: ${name} needs a number ≥ 0, got ${argv[i + 1]}`);
  return n;
};
const quick = flag('--quick');
const options = {
  quick,
  rounds: value('--rounds', quick ? 1 : 8),
  durationMs: value('--duration', quick ? 400 : 600),
  warmupMs: value('--warmup', quick ? 150 : 150),
  // Warm-up of every fresh server pair before its first round, per server: keep-alive requests, and
  // connections per handshake mode. A server's CPU per request keeps falling for thousands of
  // requests after start, and more so for the variants (more code to optimise): with 3 s of
  // keep-alive traffic every generation's first round read up to 2x high, and with 200 connections
  // per handshake mode the identity variant read 0.80-0.84x the reference on new connections,
  // against 0.92-0.98x after 1,000 (docs/performance.md, Fresh processes per generation).
  warmupRequests: value('--warmup-requests', quick ? 300 : 10_000),
  warmupConnections: value('--warmup-connections', quick ? 20 : 1000),
  // ... and at least this long (keep-alive; an eighth of it per handshake mode), e.g. for profiles.
  initialWarmupMs: value('--initial-warmup', quick ? 300 : 1000),
  maxWaitMs: value('--max-wait', quick ? 1000 : 20_000),
  // Fewest keep-alive requests per server in a window (a twentieth of it for handshake modes).
  minRequests: value('--min-requests', quick ? 100 : 1000),
  // More certificates than the library's certificate cache holds (1000), so that cycling through
  // them misses the cache on every connection of the distinct-certificate mode.
  pool: value('--pool', quick ? 50 : 1500),
  concurrency: value('--concurrency', 8),
  memoryCerts: value('--memory-certs', quick ? 5000 : 100_000),
  pin: !flag('--no-pin') && hasTaskset(),
  memory: !flag('--no-memory'),
  // How a variant and its reference share a window: 'simultaneous' (default) serves both at once,
  // so both see the same machine (on this VM its speed changes by up to 2x from one 600 ms window to
  // the next), at the price of evicting each other's caches; 'alternate' serves one, then the other,
  // each alone on core 0 (order flipped every other window). See docs/performance.md.
  pairing: pairingOption(),
  // --pairing turns: how long each server of a pair has the core before the other's turn.
  turnMs: value('--turn', 50),
  generations: 0,
};
// Fresh server processes every rounds/generations rounds (at least one generation, even for --rounds 0).
options.generations = Math.max(1, Math.min(value('--generations', quick ? 1 : 4), Math.max(1, options.rounds)));
const list = (name: string): string[] | undefined => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : (argv[i + 1] ?? '').split(',');
};
const onlyModes = (list('--modes') ?? MODE_NAMES) as ModeName[];
const onlyVariants = (list('--variants') ?? VARIANT_NAMES) as VariantName[];
const soloWarmup = flag('--solo-warmup');
const counterEvents = list('--counters')?.filter(Boolean);
if (counterEvents?.length === 0) throw new TypeError('bench: --counters needs events, e.g. --counters instructions,cycles');
const jsonIndex = argv.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? argv[jsonIndex + 1] : undefined;

const PAIRING_TEXT = {
  simultaneous: () => 'each window a variant and its reference at the same time',
  turns: (turnMs: number) => `each window a variant and its reference in alternating turns of ${turnMs} ms, each alone`,
  alternate: () => 'each window a variant and its reference one after the other, each alone',
} as const;

function pairingOption(): 'alternate' | 'simultaneous' | 'turns' {
  const i = argv.indexOf('--pairing');
  if (i < 0) return 'simultaneous';
  const v = argv[i + 1];
  if (v === 'alternate' || v === 'simultaneous' || v === 'turns') return v;
  throw new TypeError(`bench: --pairing is 'simultaneous', 'turns' or 'alternate', got ${String(v)}`);
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return cpus().length >= 2;
  } catch {
    return false;
  }
}

// ---------- child processes ----------
/** Extra node flags for the server processes, e.g. BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const serverFlags = (process.env['BENCH_SERVER_FLAGS'] ?? '').split(' ').filter(Boolean);

function startChild(name: string, script: string, args: string[], core: number | string | undefined, nodeFlags: string[] = []): Child {
  return startBenchChild(name, script, args, { log, ...(core !== undefined ? { core } : {}), nodeFlags });
}

/** A server's CPU clock (µs) and how many certificates its library cache has parsed so far. */
async function serverClock(server: Child): Promise<{ cpu: number; parses: number }> {
  server.send({ type: 'cpu' });
  const m = await server.next('cpu');
  const cpu = m['cpu'] as NodeJS.CpuUsage;
  return { cpu: cpu.user + cpu.system, parses: m['parses'] as number };
}

// ---------- the run ----------
interface Window {
  round: number;
  /** Which set of server processes served the window (fresh processes per generation). */
  generation: number;
  mode: ModeName;
  variant: VariantName;
  /** The server measured at the same time (the reference; for a reference, the variant). */
  partner: VariantName;
  result: WindowResult;
  cpuMicros: number;
  parses: number;
  /** With --counters: what perf counted in the server during the window. */
  counters?: Record<string, number>;
  /** Share of the machine's CPU used by processes other than the server and the load generator. */
  otherLoad: number;
}

/** Busy CPU time of the whole machine so far, µs (from /proc/stat), or NaN where there is none. */
function machineBusyMicros(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait, in USER_HZ (100/s)
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0);
    return busy * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** A window counts as quiet when other processes used at most this share of the machine. */
const QUIET_LOAD = 0.15;

/** Seconds left for waiting on a busy machine before a window (bounded, so the run ends in time). */
let waitBudgetMs = 0;

/**
 * Before a window, while the machine is busy with other work (between windows ours is idle), wait
 * in 250 ms steps, within the run's waiting budget. Returns the other load last seen.
 */
async function waitForQuiet(): Promise<number> {
  for (;;) {
    const b0 = machineBusyMicros();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 250));
    const load = (machineBusyMicros() - b0) / ((performance.now() - t0) * 1000 * cpus().length);
    if (!(load > QUIET_LOAD) || waitBudgetMs <= 0) return load;
    waitBudgetMs -= 250;
  }
}

interface Measured {
  result: WindowResult;
  cpuMicros: number;
  /** Certificates the server's library cache parsed during the window. */
  parses: number;
  /** With --counters: what perf counted in the server during the window. */
  counters?: Record<string, number>;
}

/**
 * One window: the load generator drives every given server at the same time (a variant and its
 * reference share core 0 and whatever else runs on the machine), and each server's CPU clock is
 * read before and after.
 */
async function measureWindow(
  load: Child,
  targets: readonly { child: Child; port: number }[],
  mode: ModeName,
  warmUp?: { readonly durationMs: number; readonly requests: number },
): Promise<{ measured: Measured[]; otherLoad: number }> {
  const durationMs = warmUp?.durationMs ?? options.durationMs;
  const minRequests = warmUp?.requests ?? (mode === 'keepalive' ? options.minRequests : options.minRequests / 20);
  // A warm-up runs until every server had its requests (bounded: a stuck server must not hang the run).
  const maxDurationMs = warmUp === undefined ? 4 * durationMs : Math.max(4 * durationMs, 120_000);
  load.send({
    type: 'run',
    ports: targets.map((t) => t.port),
    mode,
    concurrency: options.concurrency,
    warmupMs: options.warmupMs,
    durationMs,
    minRequests,
    maxDurationMs,
    ...(options.pairing === 'turns' ? { turnMs: options.turnMs } : {}),
  });
  await load.next('warm');
  // Counted windows only: a fresh server's warm-up is not reported.
  const sessions = counterEvents && !warmUp && targets.map((t) => new CounterSession(t.child.process.pid!, counterEvents));
  // perf needs a moment to attach; the servers are idle meanwhile.
  if (sessions) await new Promise((r) => setTimeout(r, 200));
  const before = await Promise.all(targets.map((t) => serverClock(t.child)));
  const busyBefore = machineBusyMicros();
  const t0 = performance.now();
  load.send({ type: 'go' });
  const done = await load.next('done');
  const busyAfter = machineBusyMicros();
  const wallMicros = (performance.now() - t0) * 1000;
  const after = await Promise.all(targets.map((t) => serverClock(t.child)));
  const counted = sessions && (await Promise.all(sessions.map((c) => c.stop())));
  load.send({ type: 'close' });
  await load.next('closed');
  const results = done['results'] as WindowResult[];
  const measured = results.map((result, i) => ({
    result,
    cpuMicros: after[i]!.cpu - before[i]!.cpu,
    parses: after[i]!.parses - before[i]!.parses,
    ...(counted ? { counters: counted[i]! } : {}),
  }));
  const ours = measured.reduce((a, m) => a + m.cpuMicros, 0) + (results[0]?.cpuMicros ?? 0);
  const other = (busyAfter - busyBefore - ours) / (wallMicros * cpus().length);
  return { measured, otherLoad: Math.max(0, other) };
}

/** A pair's window under `--pairing alternate`: each server alone, in the given order. */
async function measureAlternating(
  load: Child,
  targets: readonly { child: Child; port: number }[],
  mode: ModeName,
): Promise<{ measured: Measured[]; otherLoad: number }> {
  const measured: Measured[] = [];
  let otherLoad = 0;
  for (const target of targets) {
    const one = await measureWindow(load, [target], mode);
    measured.push(one.measured[0]!);
    otherLoad = Math.max(otherLoad, one.otherLoad);
  }
  return { measured, otherLoad };
}

const startedAt = Date.now();
function log(line: string): void {
  process.stderr.write(`${line} [${((Date.now() - startedAt) / 1000).toFixed(0)} s]\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'mtls-bench-'));
  const children: Child[] = [];
  const cleanup = () => {
    for (const c of children) c.kill();
    rmSync(work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const problem = counterEvents && counterProblem(counterEvents);
    if (problem) throw new Error(`bench: --counters ${counterEvents.join(',')}: ${problem}`);
    log(`bench: making ${options.pool} client certificates ...`);
    const certs = await makeCertFiles(work, options.pool);
    log(`bench: certificates from ${certs.source}`);

    const load = startChild('load generator', 'load.ts', [work], options.pin ? 1 : undefined);
    children.push(load);
    await load.next('ready');

    // One pair of server processes per compared variant: the variant and its own instance of its
    // reference, so both sides of a pair are used (and sit idle) exactly alike. The pairs are
    // replaced by fresh processes every few rounds ("generations"): each process's JIT settles at
    // its own cost, so a ratio taken over one process pair carries that pair's bias in every round;
    // over several generations the median runs over several independent process pairs.
    type Server = { child: Child; port: number };
    type Pair = { variant: VariantName; reference: VariantName; servers: [Server, Server] };
    const unavailable = new Map<VariantName, string>();
    const start = async (name: VariantName, label: string): Promise<Server | undefined> => {
      // Start-up (module loading, ~10-17 s for a generation's 12 processes) may use both cores; the
      // server is pinned to core 0, every thread of it, once it listens.
      const child = startChild(`server ${label}`, 'server.ts', [name, work], options.pin ? '0,1' : undefined, serverFlags);
      children.push(child);
      try {
        const ready = await child.next('ready', 90_000);
        if (options.pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(child.process.pid)], { stdio: 'ignore' });
        return { child, port: ready['port'] as number };
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        const reason = text.split('\n').find((l) => /^\s*\w*Error: /.test(l))?.trim() ?? text.split('\n')[0]!;
        unavailable.set(name, reason.slice(0, 200));
        log(`bench: variant ${name} unavailable: ${reason.slice(0, 300)}`);
        return undefined;
      }
    };
    const compared = VARIANT_NAMES.filter((v) => onlyVariants.includes(v) && VARIANTS[v].reference !== v);
    const startPairs = async (): Promise<Pair[]> => {
      const pairs: Pair[] = [];
      await Promise.all(
        compared
          .filter((variant) => !unavailable.has(variant) && !unavailable.has(VARIANTS[variant].reference))
          .map(async (variant) => {
            const reference = VARIANTS[variant].reference;
            const [a, b] = await Promise.all([start(variant, variant), start(reference, `${reference} (paired with ${variant})`)]);
            if (a && b) pairs.push({ variant, reference, servers: [a, b] });
            else for (const s of [a, b]) s?.child.kill();
          }),
      );
      pairs.sort((x, y) => compared.indexOf(x.variant) - compared.indexOf(y.variant));
      return pairs;
    };
    const stopPairs = async (pairs: Pair[]): Promise<void> => {
      const stopping = pairs.flatMap((p) => p.servers.map((s) => s.child));
      await Promise.all(stopping.map((c) => c.stop()));
      for (const c of stopping) children.splice(children.indexOf(c), 1);
    };
    const modes = MODE_NAMES.filter((m) => onlyModes.includes(m));
    // JIT warm-up of fresh processes before anything counts: on this machine class Express needs
    // seconds of traffic before its per-request cost settles.
    const warmUp = async (pairs: Pair[]): Promise<void> => {
      for (const pair of pairs) {
        for (const mode of modes) {
          const warmUp =
            mode === 'keepalive'
              ? { durationMs: options.initialWarmupMs, requests: options.warmupRequests }
              : { durationMs: options.initialWarmupMs / 8, requests: options.warmupConnections };
          // --solo-warmup: one server at a time (for profiles: a wall-clock sampling profiler charges
          // a process for the time its pair partner preempts it).
          if (soloWarmup) for (const server of pair.servers) await measureWindow(load, [server], mode, warmUp);
          else await measureWindow(load, pair.servers, mode, warmUp);
        }
      }
    };

    const windows: Window[] = [];
    waitBudgetMs = options.maxWaitMs;
    let lastOtherLoad = Number.NaN;
    for (let generation = 0; generation < options.generations; generation++) {
      // This generation's rounds: the rounds split as evenly as they go.
      const first = Math.floor((generation * options.rounds) / options.generations);
      const last = Math.floor(((generation + 1) * options.rounds) / options.generations);
      log(`bench: generation ${generation + 1}/${options.generations}: starting and warming fresh servers up ...`);
      const pairs = await startPairs();
      await warmUp(pairs);
      lastOtherLoad = Number.NaN;
      for (let round = first; round < last; round++) {
        for (const mode of roundOrder(MODE_NAMES, round).filter((m) => onlyModes.includes(m))) {
          for (const { variant, reference, servers } of roundOrder(pairs, round + MODE_NAMES.indexOf(mode))) {
            // Wait for a quiet machine unless the previous window already was quiet (a check costs 250 ms).
            if (!(lastOtherLoad <= QUIET_LOAD)) await waitForQuiet();
            // Alternate which server the load generator serves first, against any order effect.
            const flip = (round + MODE_NAMES.indexOf(mode)) % 2 === 1;
            const ordered = flip ? [servers[1], servers[0]] : servers;
            const { measured: m, otherLoad } =
              options.pairing === 'alternate' ? await measureAlternating(load, ordered, mode) : await measureWindow(load, ordered, mode);
            lastOtherLoad = otherLoad;
            const measured = flip ? [m[1]!, m[0]!] : m;
            windows.push({ round, generation, mode, variant, partner: reference, ...measured[0]!, otherLoad });
            windows.push({ round, generation, mode, variant: reference, partner: variant, ...measured[1]!, otherLoad });
            for (const [name, m] of [[variant, measured[0]!], [reference, measured[1]!]] as const) {
              if (m.result.errors > 0) log(`bench: ${mode}/${name}: ${m.result.errors} errors, first: ${m.result.firstError}`);
            }
          }
        }
        log(`bench: round ${round + 1}/${options.rounds} done`);
      }
      // The last generation stays up until the end (its processes write their profiles on exit).
      if (generation < options.generations - 1) await stopPairs(pairs);
    }

    const results: Results = {
      cells: [],
      options: { ...options, ...(counterEvents ? { counters: counterEvents } : {}) },
      unavailable: Object.fromEntries(unavailable),
      waitedMs: options.maxWaitMs - Math.max(0, waitBudgetMs),
      windows: windows.map((w) => ({
        round: w.round,
        generation: w.generation,
        mode: w.mode,
        variant: w.variant,
        partner: w.partner,
        requests: w.result.requests,
        elapsedMs: w.result.elapsedMs,
        cpuMicros: w.cpuMicros,
        loadCpuMicros: w.result.cpuMicros,
        otherLoad: w.otherLoad,
        ...(w.counters ? { counters: w.counters } : {}),
      })),
    };
    for (const mode of MODE_NAMES) {
      for (const variant of VARIANT_NAMES) {
        const mine = windows.filter((w) => w.mode === mode && w.variant === variant);
        if (mine.length === 0) continue;
        const reference = VARIANTS[variant].reference;
        const perRound = mine.map((w) => w.cpuMicros / Math.max(1, w.result.requests));
        // The reference's side of the same window.
        const refOf = (w: Window) =>
          windows.find((x) => x.mode === mode && x.variant === reference && x.partner === variant && x.round === w.round);
        // Rounds where neither this window nor its reference shared the machine with much else;
        // all rounds when fewer than three were quiet.
        const quiet = mine.filter((w) => Math.max(w.otherLoad, refOf(w)?.otherLoad ?? 1) <= QUIET_LOAD);
        const used = quiet.length >= 3 ? quiet : mine;
        const ratios = used.map((w) => {
          const ref = refOf(w);
          if (!ref) return Number.NaN;
          return ref.cpuMicros / Math.max(1, ref.result.requests) / (w.cpuMicros / Math.max(1, w.result.requests));
        });
        // Per generation (one set of server processes): the reference's CPU per request over the
        // generation's windows ÷ this variant's, from the same windows; the ratio is the median of
        // those. Pooling a generation's windows damps a single odd window better than a median of
        // two per-window ratios does (A/A control over three runs: 2.5% from 1.00x RMS, against 4.3%).
        // `amount` is what is summed per window: CPU µs, or a --counters event.
        const perRequest = (xs: readonly Window[], amount: (w: Window) => number) =>
          xs.reduce((a, x) => a + amount(x), 0) / Math.max(1, xs.reduce((a, x) => a + x.result.requests, 0));
        const pooledRatio = (amount: (w: Window) => number) =>
          median(
            [...new Set(used.map((w) => w.generation))].map((g) => {
              const own = used.filter((w) => w.generation === g);
              const refs = own.map(refOf);
              if (refs.some((x) => !x)) return Number.NaN;
              return perRequest(refs as Window[], amount) / perRequest(own, amount);
            }),
          );
        const rpsRatios = mine.map((w) => {
          const ref = refOf(w);
          if (!ref) return Number.NaN;
          return w.result.requests / w.result.elapsedMs / (ref.result.requests / ref.result.elapsedMs);
        });
        const latencies = mine.flatMap((w) => w.result.latenciesMs).sort((a, b) => a - b);
        const requests = mine.reduce((a, w) => a + w.result.requests, 0);
        const seconds = mine.reduce((a, w) => a + w.result.elapsedMs, 0) / 1000;
        const connections = mine.reduce((a, w) => a + w.result.connections, 0);
        const cell: CellResult = {
          mode,
          variant,
          reference,
          requests,
          errors: mine.reduce((a, w) => a + w.result.errors, 0),
          rps: requests / seconds,
          p50ms: percentile(latencies, 0.5),
          p99ms: percentile(latencies, 0.99),
          cpuMicrosPerRequest: median(perRound),
          ratioRounds: used.length,
          quiet: used === quiet,
          otherLoad: median(mine.map((w) => w.otherLoad)),
          cpuRatio: pooledRatio((w) => w.cpuMicros),
          cpuRatioSpread: halfIqr(ratios),
          rpsRatio: median(rpsRatios),
          resumedShare: connections ? mine.reduce((a, w) => a + w.result.resumed, 0) / connections : Number.NaN,
          parsesPerRequest: VARIANTS[variant].identity ? mine.reduce((a, w) => a + w.parses, 0) / Math.max(1, requests) : Number.NaN,
        };
        if (counterEvents) {
          cell.countersPerRequest = {};
          cell.counterRatios = {};
          for (const event of counterEvents) {
            const count = (w: Window) => w.counters?.[event] ?? Number.NaN;
            cell.countersPerRequest[event] = median(mine.map((w) => perRequest([w], count)));
            cell.counterRatios[event] = pooledRatio(count);
          }
        }
        results.cells.push(cell);
      }
    }

    if (options.memory) {
      log('bench: parse cost and heap with distinct certificates ...');
      const mem = startChild('memory', 'memory.ts', [work, String(options.memoryCerts)], options.pin ? 0 : undefined, ['--expose-gc']);
      children.push(mem);
      try {
        const m = await mem.next('memory', 600_000);
        results.memory = m['report'] as MemoryReport;
      } catch (error) {
        results.memoryError = (error instanceof Error ? error.message : String(error)).slice(0, 300);
      }
    }

    print(results, certs.source, (Date.now() - started) / 1000);
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify(results, null, 2));
    await Promise.all(children.map((c) => c.stop()));
  } finally {
    cleanup();
  }
}

/** At least three significant digits (counts run from milliseconds to millions). */
function threeDigits(value: number): string {
  return fixed(value, Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3);
}

function print(results: Results, certSource: string, seconds: number): void {
  const o = results.options;
  const out: string[] = [];
  out.push(`mtls-observability benchmark — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}`);
  out.push(
    `${o.quick ? 'QUICK smoke run (numbers not meaningful); ' : ''}${o.rounds} interleaved round(s) × ${o.durationMs} ms per window (+${o.warmupMs} ms warm-up), ` +
      `fresh server processes (warmed up with ≥ ${o.warmupRequests} keep-alive requests and ≥ ${o.warmupConnections} connections per handshake mode each) for each of ${o.generations} generation(s) of rounds, ` +
      `${PAIRING_TEXT[o.pairing](o.turnMs)}, ${o.concurrency} connections in flight to each, ` +
      `${o.pool} client certificates (${certSource}), ` +
      `${o.pin ? 'server on core 0, load generator on core 1' : 'not pinned'}`,
  );
  out.push(
    "ratio = reference CPU µs/req ÷ this row's CPU µs/req over the same windows of one generation of server processes, median over generations " +
      '(1.00x = same cost; higher is cheaper); ± = half the interquartile range of the per-round ratios',
  );
  out.push(
    `rounds = rounds used for the ratio: those where other processes used ≤ ${QUIET_LOAD * 100}% of the machine ` +
      'during both windows (* = fewer than 3 were, so all rounds); other load = median share of the machine used by other processes',
  );
  out.push('');
  const header = ['mode', 'variant', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'ratio', '±', 'vs', 'rounds', 'other load', 'req/s ratio', 'parses/req'];
  const rows = results.cells.map((c) => [
    MODES[c.mode],
    VARIANTS[c.variant].label,
    fixed(c.rps, 0),
    fixed(c.p50ms, 2),
    fixed(c.p99ms, 2),
    fixed(c.cpuMicrosPerRequest, 0),
    c.variant === c.reference ? '1.00x' : `${fixed(c.cpuRatio, 3)}x`,
    c.variant === c.reference ? '' : fixed(c.cpuRatioSpread, 3),
    c.reference,
    c.variant === c.reference ? String(o.rounds) : `${c.ratioRounds}${c.quiet ? '' : '*'}`,
    `${fixed(c.otherLoad * 100, 0)}%`,
    c.variant === c.reference ? '1.00x' : `${fixed(c.rpsRatio, 3)}x`,
    Number.isFinite(c.parsesPerRequest) ? fixed(c.parsesPerRequest, 2) : '',
  ]);
  out.push(formatTable(header, rows));
  for (const [v, reason] of Object.entries(results.unavailable)) out.push(`variant ${v} not measured: ${reason}`);
  const resumed = results.cells.filter((c) => c.mode === 'resume').map((c) => c.resumedShare);
  if (resumed.length) out.push(`resumption: ${fixed(Math.min(...resumed) * 100, 1)}% or more of the connections resumed a session`);
  out.push('parses/req = certificates the library parsed per request served (its certificate cache holds 1000)');
  const control = results.cells.filter((c) => c.variant === 'control');
  if (control.length) {
    out.push(
      'method check, the reference against a copy of itself (ideal 1.00x): ' +
        control.map((c) => `${MODES[c.mode]} ${fixed(c.cpuRatio, 3)}x ± ${fixed(c.cpuRatioSpread, 3)}`).join('; '),
    );
  }
  if (results.waitedMs) out.push(`waited ${fixed(results.waitedMs / 1000, 1)} s in all for other processes to quieten down`);
  const errors = results.cells.reduce((a, c) => a + c.errors, 0);
  out.push(`errors: ${errors}`);
  if (o.counters) {
    out.push('');
    out.push(
      `counted with perf stat in each server over each window, per request; ratio = reference ÷ this row, pooled per generation, median over generations (higher is cheaper):`,
    );
    const counterRows = results.cells.map((c) => [
      MODES[c.mode],
      VARIANTS[c.variant].label,
      ...o.counters!.flatMap((event) => [
        threeDigits(c.countersPerRequest?.[event] ?? Number.NaN),
        c.variant === c.reference ? '1.00x' : `${fixed(c.counterRatios?.[event] ?? Number.NaN, 3)}x`,
      ]),
    ]);
    out.push(formatTable(['mode', 'variant', ...o.counters.flatMap((event) => [`${event}/req`, 'ratio'])], counterRows));
  }
  out.push('');
  if (results.memory) {
    const m = results.memory;
    out.push(`parse cost per new certificate (parseCertificate, median of batch means): ${fixed(m.parseMicros, 1)} µs`);
    out.push(`library cache path per new certificate (key + parse + insert): ${fixed(m.missMicros, 1)} µs; per known certificate: ${fixed(m.hitMicros, 2)} µs`);
    out.push(
      `heap after ${m.smallCount} distinct certificates: ${fixed(m.heapSmallMB, 2)} MB; ` +
        (m.midCount ? `after ${m.midCount}: ${fixed(m.heapMidMB!, 2)} MB; ` : '') +
        `after ${m.largeCount}: ${fixed(m.heapLargeMB, 2)} MB ` +
        `(${signed(m.heapLargeMB - m.heapSmallMB, 2)} MB); cache entries ${m.cacheEntries ?? 'n/a'} of ${m.cacheCapacity ?? 'n/a'}`,
    );
    if (m.perRequest && Object.keys(m.perRequest).length) {
      out.push("the library's own cost per request, in-process (fake sockets; Node's certificate read excluded), median:");
      for (const [k, us] of Object.entries(m.perRequest)) out.push(`  ${k}: ${fixed(us, 2)} µs`);
    }
    if (m.perConnection && Object.keys(m.perConnection).length) {
      out.push(
        `reading the client certificate on a new connection (median): ` +
          Object.entries(m.perConnection)
            .map(([k, us]) => `${k} ${fixed(us, 1)} µs`)
            .join('; '),
      );
    }
    if (m.cacheEntries) {
      out.push(
        `certificate cache: ${fixed(((m.heapSmallMB - m.heapEmptyMB) * 1024 * 1024) / Math.min(m.smallCount, m.cacheEntries) / 1024, 1)} KB of heap per entry ` +
          `(heap with ${m.smallCount} certificates minus heap with an empty cache)`,
      );
    }
    for (const note of m.notes) out.push(`memory: ${note}`);
  } else if (results.memoryError) {
    out.push(`memory: not measured: ${results.memoryError}`);
  }
  out.push('');
  out.push('goals:');
  for (const g of evaluateGoals(results)) out.push(`  ${g.status.padEnd(7)} ${g.text}`);
  out.push(`(${seconds.toFixed(0)} s)`);
  console.log(out.join('\n'));
  void GOALS;
}

await main();
