/**
 * Performance counters per server process through Linux `perf stat`, for
 * `npm run bench -- --counters instructions,cycles`: what a server executed in a window, which a
 * machine's speed changes do not move the way they move CPU time. Needs `perf` and, for hardware
 * events, a machine that exposes its PMU (most VMs do not: `perf stat -e instructions` prints
 * `<not supported>`); software events such as `task-clock` work everywhere perf does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Counts by event name from `perf stat -x,` output; an event perf did not count is NaN. */
export function parsePerfStatCsv(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    // value,unit,event,run time,percentage,... (perf's -x, format); comments start with '#'.
    const fields = line.split(',');
    if (fields.length < 3 || line.startsWith('#')) continue;
    const [value, , event] = fields;
    if (!event) continue;
    const number = Number(value);
    counts[event] = value !== '' && Number.isFinite(number) ? number : Number.NaN;
  }
  return counts;
}

/**
 * Why `events` cannot be counted on this machine, or undefined when they can: runs
 * `perf stat -x, -e <events> -- true` once (perf exits 0 for an event it cannot count, and says so).
 */
export function counterProblem(events: readonly string[]): string | undefined {
  const probe = spawnSync('perf', ['stat', '-x,', '-e', events.join(','), '--', 'true'], { encoding: 'utf8' });
  if (probe.error) return `perf is not available (${probe.error.message})`;
  if (probe.status !== 0) return `perf stat failed: ${probe.stderr.trim().split('\n')[0] ?? ''}`;
  const unsupported = probe.stderr
    .split('\n')
    .filter((line) => line.startsWith('<not supported>'))
    .map((line) => line.split(',')[2]);
  if (unsupported.length > 0) {
    return `perf cannot count ${unsupported.join(', ')} on this machine (<not supported>: no PMU, e.g. a VM without one)`;
  }
  return undefined;
}

/** One `perf stat` attached to a running process (all its threads) until {@link stop}. */
export class CounterSession {
  readonly #perf: ChildProcess;
  #stderr = '';
  readonly #exited: Promise<void>;

  constructor(pid: number, events: readonly string[]) {
    this.#perf = spawn('perf', ['stat', '-x,', '-e', events.join(','), '-p', String(pid)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#perf.stderr!.setEncoding('utf8');
    this.#perf.stderr!.on('data', (chunk: string) => (this.#stderr += chunk));
    // A perf that cannot start (checked before the run by counterProblem) leaves the counts empty.
    this.#exited = new Promise((resolve) => {
      this.#perf.once('close', () => resolve());
      this.#perf.once('error', () => resolve());
    });
  }

  /** Stops counting and returns the counts by event. */
  async stop(): Promise<Record<string, number>> {
    this.#perf.kill('SIGINT');
    await this.#exited;
    return parsePerfStatCsv(this.#stderr);
  }
}
