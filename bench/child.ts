/**
 * The bench's child processes (sections, servers, the load generator): spawned with an IPC
 * channel, and awaited message by message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));

export type Message = { type: string; [key: string]: unknown };

export class Child {
  private readonly queue: Message[] = [];
  private readonly waiters: { type: string; settle: (m: Message | Error) => void }[] = [];
  private exited: string | undefined;
  private stderr = '';

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
    log: (line: string) => void,
  ) {
    process.on('message', (m: Message) => {
      const w = this.waiters.findIndex((x) => x.type === m.type);
      if (w >= 0) this.waiters.splice(w, 1)[0]!.settle(m);
      else this.queue.push(m);
    });
    process.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      for (const line of text.split('\n')) if (line.startsWith('bench: ')) log(line);
      this.stderr = (this.stderr + text).slice(-4000);
    });
    // A send to a child that is exiting fails with EPIPE; its exit event follows.
    process.on('error', () => {});
    process.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? code}`;
      for (const w of this.waiters.splice(0)) w.settle(this.failure());
    });
  }

  private failure(): Error {
    return new Error(`${this.name} ${this.exited}: ${this.stderr.trim()}`);
  }

  /** The next message of this type, or an error when the child exits or `timeoutMs` passes. */
  next(type: string, timeoutMs = 120_000): Promise<Message> {
    const i = this.queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.exited) return Promise.reject(this.failure());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        settle: (m) => {
          clearTimeout(timer);
          if (m instanceof Error) reject(m);
          else resolve(m);
        },
      });
    });
  }

  send(m: Message): void {
    this.process.send(m);
  }

  /** Asks the child to exit, then kills it (by its own pid) after a grace time. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    // A child that already sent its report may be gone before its exit event.
    if (this.process.connected) this.process.send({ type: 'exit' }, () => {});
    const timer = setTimeout(() => this.process.kill(), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts `node [flags] --import tsx bench/<script> ...args`, pinned to `core` with taskset when given. */
export function startBenchChild(name: string, script: string, args: readonly string[], options: { log: (line: string) => void; core?: number; nodeFlags?: readonly string[] }): Child {
  const node = [process.execPath, ...(options.nodeFlags ?? []), '--import', 'tsx', join(benchDir, script), ...args];
  const [command, ...rest] = options.core === undefined ? node : ['taskset', '-c', String(options.core), ...node];
  const child = spawn(command!, rest, { cwd: dirname(benchDir), stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  return new Child(name, child, options.log);
}
