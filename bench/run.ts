/**
 * `npm run bench`: what the library costs. Sections, each in its own child process:
 *   1. in-process: the library's own code timed over real TLS sockets (bench/in-process.ts);
 *   2. end to end: CPU per request of express servers (bench/server.ts) under a load generator
 *      (bench/load.ts), one server at a time, against express + morgan('combined') and an A/A copy
 *      of it, with the peers a user would write instead;
 *   3. memory: heap after many distinct certificates (bench/memory.ts).
 * Servers run on core 0 and the load generator on core 1 when `taskset` exists. Every round
 * visits every mode and every server in a rotated order, so drift hits them all alike.
 *
 * Flags: --quick (smoke run), --json FILE, --rounds N, --modes a,b and --variants a,b (names in
 * bench/variants.ts; the reference and the A/A control are always run), --sections a,b
 * (in-process, end-to-end, memory).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeCertFiles } from './certs.js';
import { type Child, startBenchChild } from './child.js';
import type { InProcessReport } from './in-process.js';
import type { WindowResult } from './load.js';
import type { MemoryReport } from './memory.js';
import { formatReport, type Results, type Window } from './report.js';
import { rotate, shuffle } from './stats.js';
import { MODE_NAMES, VARIANT_NAMES, type ModeName, type VariantName } from './variants.js';

export const SECTIONS = ['in-process', 'end-to-end', 'memory'] as const;

export interface BenchOptions {
  readonly quick: boolean;
  readonly json: string | undefined;
  readonly rounds: number;
  readonly modes: readonly ModeName[];
  readonly variants: readonly VariantName[];
  readonly sections: readonly (typeof SECTIONS)[number][];
  /** Per window: warm-up, and each server's share of the measured time, ms. */
  readonly warmupMs: number;
  readonly durationMs: number;
  /** How long each server's turn lasts before the next server's (bench/turns.ts). */
  readonly turnMs: number;
  /** More client certificates than the library's cache holds, so the distinct mode misses it. */
  readonly pool: number;
  readonly concurrency: number;
}

function names<T extends string>(flag: string, value: string | undefined, known: readonly T[]): T[] {
  if (value === undefined) return [...known];
  const picked = value.split(',').filter(Boolean);
  const unknown = picked.filter((v) => !known.includes(v as T));
  if (unknown.length || picked.length === 0) throw new TypeError(`bench: --${flag} takes a list of ${known.join(', ')}; got "${value}"`);
  return picked as T[];
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      rounds: { type: 'string' },
      modes: { type: 'string' },
      variants: { type: 'string' },
      sections: { type: 'string' },
    },
  });
  const quick = values.quick;
  const rounds = Number(values.rounds ?? (quick ? 1 : 7));
  if (!Number.isInteger(rounds) || rounds < 1) throw new TypeError(`bench: --rounds takes a whole number ≥ 1; got "${values.rounds}"`);
  const variants = names('variants', values.variants, VARIANT_NAMES);
  return {
    quick,
    json: values.json,
    rounds,
    modes: names('modes', values.modes, MODE_NAMES),
    variants: VARIANT_NAMES.filter((v) => v === 'ref' || v === 'control' || variants.includes(v)),
    sections: names('sections', values.sections, SECTIONS),
    warmupMs: quick ? 50 : 200,
    durationMs: quick ? 150 : 400,
    turnMs: 100,
    pool: quick ? 50 : 1200,
    concurrency: 8,
  };
}

const started = Date.now();
const log = (line: string) => process.stderr.write(`${line} [${((Date.now() - started) / 1000).toFixed(0)} s]\n`);

function canPin(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return cpus().length >= 2;
  } catch {
    return false;
  }
}

async function serverCpu(server: Child): Promise<{ micros: number; parses: number }> {
  server.send({ type: 'cpu' });
  const m = await server.next('cpu');
  return { micros: m['micros'] as number, parses: m['parses'] as number };
}

type Server = { readonly variant: VariantName; readonly child: Child; readonly port: number };

/** One window: the servers take turns under the load generator while their CPU clocks run. */
async function measure(load: Child, servers: readonly Server[], o: BenchOptions, mode: ModeName, perServerMs: number, minRequests: number) {
  const durationMs = perServerMs * servers.length;
  load.send({ type: 'run', ports: servers.map((s) => s.port), mode, concurrency: o.concurrency, turnMs: o.turnMs, warmupMs: o.warmupMs, durationMs, minRequests });
  await load.next('warm');
  const before = await Promise.all(servers.map((s) => serverCpu(s.child)));
  load.send({ type: 'go' });
  const results = (await load.next('done'))['results'] as WindowResult[];
  const after = await Promise.all(servers.map((s) => serverCpu(s.child)));
  load.send({ type: 'close' });
  await load.next('closed');
  return servers.map((server, i) => {
    const r = results[i]!;
    if (r.errors) log(`bench: ${mode}/${server.variant}: ${r.errors} errors, first: ${r.firstError}`);
    return { variant: server.variant, ...r, cpuMicros: after[i]!.micros - before[i]!.micros, parses: after[i]!.parses - before[i]!.parses };
  });
}

async function endToEnd(o: BenchOptions, dir: string, pin: boolean, children: Child[]): Promise<Window[]> {
  log(`bench: making ${o.pool} client certificates ...`);
  await makeCertFiles(dir, o.pool);
  const load = startBenchChild('load generator', 'load.ts', [dir], { log, ...(pin ? { core: 1 } : {}) });
  children.push(load);
  await load.next('ready');
  // Started side by side (module loading uses both cores), then every thread moved to core 0.
  const servers: Server[] = await Promise.all(
    o.variants.map(async (variant) => {
      const child = startBenchChild(`server ${variant}`, 'server.ts', [variant, dir], { log });
      children.push(child);
      const port = (await child.next('ready', 90_000))['port'] as number;
      if (pin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(child.process.pid)], { stdio: 'ignore' });
      return { variant, child, port };
    }),
  );
  // A fresh process's cost per request keeps falling for thousands of requests while the JIT
  // settles: every server is warmed up in every mode before anything counts.
  log('bench: warming the servers up ...');
  for (const mode of o.modes) await measure(load, servers, o, mode, o.quick ? 200 : mode === 'keepalive' ? 3000 : 1200, 0);
  const windows: Window[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const [m, mode] of rotate(o.modes, round).entries()) {
      const measured = await measure(load, shuffle(servers, round * 8 + m), o, mode, o.durationMs, mode === 'keepalive' ? 500 : 50);
      windows.push(...measured.map((r) => ({ round, mode, ...r })));
    }
    log(`bench: round ${round + 1}/${o.rounds} done`);
  }
  return windows;
}

/** Runs a section's child (on core 0 when pinning) and returns the report it sends. */
async function section<T>(script: string, type: string, o: BenchOptions, pin: boolean, children: Child[]): Promise<T> {
  const child = startBenchChild(type, script, o.quick ? ['--quick'] : [], { log, nodeFlags: ['--expose-gc'], ...(pin ? { core: 0 } : {}) });
  children.push(child);
  return (await child.next(type, 600_000))['report'] as T;
}

async function main(o: BenchOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-bench-'));
  const children: Child[] = [];
  const pin = canPin();
  const problems: string[] = [];
  const attempt = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!o.sections.includes(name as never)) return undefined;
    log(`bench: ${name} ...`);
    try {
      return await run();
    } catch (error) {
      problems.push(`${name}: ${(error instanceof Error ? error.message : String(error)).slice(0, 500)}`);
      return undefined;
    }
  };
  try {
    const inProcess = await attempt('in-process', () => section<InProcessReport>('in-process.ts', 'in-process', o, pin, children));
    const windows = (await attempt('end-to-end', () => endToEnd(o, dir, pin, children))) ?? [];
    const memory = await attempt('memory', () => section<MemoryReport>('memory.ts', 'memory', o, pin, children));
    const results: Results = {
      startedAt: new Date(started).toISOString(),
      environment: `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`,
      settings:
        `${o.quick ? 'QUICK smoke run (figures not meaningful); ' : ''}${o.rounds} round(s); per mode and round one window in which the servers ` +
        `take ${o.turnMs} ms turns, each alone, ${o.durationMs} ms each; ${o.concurrency} connections in flight; ${o.pool} client certificates; ` +
        `${pin ? 'servers on core 0, load generator on core 1' : 'not pinned'}`,
      ...(inProcess ? { inProcess } : {}),
      windows,
      ...(memory ? { memory } : {}),
      problems,
    };
    console.log(formatReport(results, (Date.now() - started) / 1000));
    if (o.json) writeFileSync(o.json, JSON.stringify(results, null, 2));
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(parseOptions(process.argv.slice(2)));
