/**
 * The benchmark's child processes (servers, the load generator): spawned with an IPC channel, and
 * awaited message by message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);

export type Message = { type: string; [key: string]: unknown };

export class Child {
  private readonly queue: Message[] = [];
  private readonly waiters: { type: string; resolve: (m: Message) => void; reject: (e: Error) => void }[] = [];
  exited: string | undefined;
  stderr = '';

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
    log: (line: string) => void,
  ) {
    process.on('message', (m: Message) => {
      const w = this.waiters.findIndex((x) => x.type === m.type);
      if (w >= 0) this.waiters.splice(w, 1)[0]!.resolve(m);
      else this.queue.push(m);
    });
    process.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      for (const line of text.split('\n')) if (line.startsWith('bench: ')) log(line);
      this.stderr = (this.stderr + text).slice(-4000);
    });
    process.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? code}`;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${name} ${this.exited}: ${this.stderr.trim()}`));
    });
  }

  next(type: string, timeoutMs = 120_000): Promise<Message> {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.exited) return Promise.reject(new Error(`${this.name} ${this.exited}: ${this.stderr.trim()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  send(m: Message): void {
    this.process.send(m);
  }

  /** Asks the child to exit (so a --cpu-prof profile gets written), then kills it after a grace time. */
  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      this.process.send({ type: 'exit' });
    } catch {
      // already disconnected
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.exited) this.process.kill();
        resolve();
      }, 3000);
      this.process.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  kill(): void {
    if (!this.exited) this.process.kill();
  }
}

export interface StartOptions {
  readonly log: (line: string) => void;
  /** Pin to these cores with `taskset` (a core number or a list such as '0,1'). */
  readonly core?: number | string;
  readonly nodeFlags?: readonly string[];
}

/** Starts `node [flags] --import tsx bench/<script> ...args` with an IPC channel. */
export function startBenchChild(name: string, script: string, args: readonly string[], options: StartOptions): Child {
  const node = [process.execPath, ...(options.nodeFlags ?? []), '--import', 'tsx', join(benchDir, script), ...args];
  const [command, ...rest] = options.core === undefined ? node : ['taskset', '-c', String(options.core), ...node];
  const child = spawn(command!, rest, { cwd: root, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  return new Child(name, child, options.log);
}
