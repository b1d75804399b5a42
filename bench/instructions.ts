/**
 * `npm run bench:instructions`: instructions per request, counted by valgrind's callgrind, for
 * the same servers and load as `npm run bench`. CPU time on a shared VM moves by several percent
 * from window to window; an instruction count does not (the same binary, inputs and warm-up give
 * the same count whatever else the machine does), once the servers' code has settled: two windows
 * are counted per mode, and only counts on which both agree say anything. It counts work, not time: cache misses and system calls weigh the same
 * as any instruction, so it complements the CPU-time table rather than replacing it.
 *
 * Every compared server runs under callgrind at the same time (the counts do not depend on sharing
 * the cores); the load generator warms them up (JIT), callgrind's counters are zeroed
 * (`callgrind_control --zero`), a window is served, and the counters are dumped; twice per mode.
 *
 * Flags: --modes a,b (default keepalive,handshakeSame,handshakeDistinct), --variants a,b (default
 *        ref,mtls,mtlsMetrics; every variant's reference is added), --warmup S (per mode, default 120),
 *        --window S (default 60), --pool N (client certificates, default 1500).
 * Needs valgrind (Debian package `valgrind`); about 12 minutes for the defaults on 2 cores.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertFiles } from './certs.js';
import { type Child, startBenchChild } from './child.js';
import { formatTable } from './stats.js';
import { MODES, VARIANTS, type ModeName, type VariantName } from './variants.js';
import type { WindowResult } from './load.js';

const argv = process.argv.slice(2);
const list = (name: string, fallback: string[]): string[] => {
  const i = argv.indexOf(name);
  return i < 0 ? fallback : (argv[i + 1] ?? '').split(',');
};
const seconds = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  const n = i < 0 ? fallback : Number(argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new TypeError(`bench: ${name} needs a number of seconds > 0`);
  return n;
};
const modes = list('--modes', ['keepalive', 'handshakeSame', 'handshakeDistinct']) as ModeName[];
const asked = list('--variants', ['ref', 'mtls', 'mtlsMetrics']) as VariantName[];
for (const m of modes) if (!(m in MODES)) throw new TypeError(`bench: unknown mode ${m}`);
for (const v of asked) if (!(v in VARIANTS)) throw new TypeError(`bench: unknown variant ${v}`);
const variants = [...new Set(asked.flatMap((v) => [VARIANTS[v].reference, v]))];
const warmupMs = seconds('--warmup', 120) * 1000;
const windowMs = seconds('--window', 60) * 1000;
const pool = seconds('--pool', 1500);

const startedAt = Date.now();
function log(line: string): void {
  process.stderr.write(`${line} [${((Date.now() - startedAt) / 1000).toFixed(0)} s]\n`);
}

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('bench:instructions needs valgrind (apt-get install valgrind)\n');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'mtls-instructions-'));
const children: Child[] = [];
const cleanup = () => {
  for (const c of children) c.kill();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

/** Instructions a callgrind process executed since its counters were last zeroed. */
function dumpInstructions(pid: number, outBase: string): number {
  const before = new Set(readdirSync(work));
  execFileSync('callgrind_control', ['--dump', String(pid)], { stdio: 'ignore' });
  const dumped = readdirSync(work).filter((f) => f.startsWith(outBase) && !before.has(f));
  if (dumped.length !== 1) throw new Error(`bench: expected one callgrind dump for ${pid}, found ${dumped.length}`);
  const text = readFileSync(join(work, dumped[0]!), 'utf8');
  const match = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!match) throw new Error(`bench: no instruction total in ${dumped[0]}`);
  return Number(match[1]);
}

const rows: string[][] = [];
try {
  log(`bench: making ${pool} client certificates ...`);
  await makeCertFiles(work, pool);
  const load = startBenchChild('load generator', 'load.ts', [work], { log });
  children.push(load);
  await load.next('ready');
  log(`bench: starting ${variants.length} servers under callgrind (slow: ~50x) ...`);
  const servers = await Promise.all(
    variants.map(async (variant) => {
      const outBase = `callgrind.${variant}`;
      const child = startBenchChild(`server ${variant}`, 'server.ts', [variant, work], {
        log,
        wrapper: ['valgrind', '--tool=callgrind', `--callgrind-out-file=${join(work, outBase)}.%p`, '--dump-instr=no'],
      });
      children.push(child);
      const ready = await child.next('ready', 600_000);
      return { variant, child, outBase, port: ready['port'] as number };
    }),
  );
  for (const mode of modes) {
    log(`bench: ${MODES[mode]}: warming up ${warmupMs / 1000} s ...`);
    const ports = servers.map((s) => s.port);
    // Two windows back to back on the same connections' servers: if their counts agree, the
    // servers' code had settled (JIT tiers, inline caches); if not, the warm-up was too short.
    const windows: number[][] = [];
    for (let w = 0; w < 2; w++) {
      load.send({ type: 'run', ports, mode, concurrency: 8, warmupMs: w === 0 ? warmupMs : 1000, durationMs: windowMs, minRequests: 0 });
      await load.next('warm', warmupMs + 600_000);
      for (const s of servers) execFileSync('callgrind_control', ['--zero', String(s.child.process.pid)], { stdio: 'ignore' });
      load.send({ type: 'go' });
      const done = await load.next('done', windowMs * 4 + 600_000);
      const counts = servers.map((s) => dumpInstructions(s.child.process.pid!, s.outBase));
      load.send({ type: 'close' });
      await load.next('closed', 600_000);
      const results = done['results'] as WindowResult[];
      windows.push(counts.map((count, i) => count / Math.max(1, results[i]!.requests)));
      servers.forEach((s, i) => log(`bench: ${MODES[mode]} / ${s.variant}: window ${w + 1}: ${results[i]!.requests} requests, ${results[i]!.errors} errors`));
    }
    const versus = (own: number, reference: number) => `${own >= reference ? '+' : ''}${((own / reference - 1) * 100).toFixed(2)}%`;
    servers.forEach((s, i) => {
      const reference = servers.findIndex((r) => r.variant === VARIANTS[s.variant].reference);
      const isReference = reference === i;
      rows.push([
        MODES[mode],
        VARIANTS[s.variant].label,
        String(Math.round(windows[0]![i]!)),
        String(Math.round(windows[1]![i]!)),
        isReference ? 'ref' : versus(windows[0]![i]!, windows[0]![reference]!),
        isReference ? 'ref' : versus(windows[1]![i]!, windows[1]![reference]!),
      ]);
    });
  }
  process.stdout.write(
    `mtls-observability instruction counts — node ${process.version}, callgrind, ${warmupMs / 1000} s warm-up and two ${windowMs / 1000} s windows per mode, every server under callgrind\n\n` +
      formatTable(['mode', 'variant', 'instr/req, window 1', 'window 2', 'vs reference, window 1', 'window 2'], rows) +
      '\n',
  );
} finally {
  for (const c of children) await c.stop();
  cleanup();
}
