/**
 * The load generator: a child process that drives one server at a time over raw TLS sockets with a
 * minimal HTTP/1.1 client (cheap on the client's own core), presenting client certificates.
 * Usage (from bench/run.ts): node --import tsx bench/load.ts <certDir>
 *
 * IPC protocol, one window at a time (a window drives one or more servers at the same time):
 *   parent → { type: 'run', ports, mode, concurrency, warmupMs, durationMs }
 *   child  → { type: 'warm' }            after the warm-up (keep-alive sockets stay open)
 *   parent → { type: 'go' }              (the parent has read the server's CPU clock)
 *   child  → { type: 'done', results }   one per port, after the window and once every request in flight ended
 *   parent → { type: 'close' }           (the parent has read the server's CPU clock again)
 *   child  → { type: 'closed' }
 */
import tls from 'node:tls';
import { readCertFiles } from './certs.js';
import type { ModeName } from './variants.js';
import { Turns } from './turns.js';

export interface WindowResult {
  readonly requests: number;
  readonly errors: number;
  readonly elapsedMs: number;
  /** Latency of every request in the window, milliseconds. */
  readonly latenciesMs: number[];
  /** Connections whose TLS session was resumed (handshake modes). */
  readonly resumed: number;
  readonly connections: number;
  /** The load generator's own CPU time in the window (for all servers driven together), µs. */
  readonly cpuMicros: number;
  readonly firstError?: string;
}

interface RunMessage {
  type: 'run';
  /** The servers to drive at the same time, each with `concurrency` connections in flight. */
  ports: number[];
  mode: ModeName;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Fewest requests per server before the window may end (it ends at maxDurationMs regardless). */
  minRequests: number;
  /** The longest the window may last while a server is short of minRequests; default 4x durationMs. */
  maxDurationMs?: number;
  /**
   * Serve the servers in turns of this many ms instead of all at once: during a turn only one server
   * gets requests, and the next turn starts once its requests in flight have ended. 0 or absent: all
   * servers at the same time.
   */
  turnMs?: number;
}

const certs = readCertFiles(process.argv[2]!);
const contexts: tls.SecureContext[] = certs.clientCertPems.map((cert) =>
  tls.createSecureContext({ key: certs.clientKeyPem, cert, ca: certs.caPem }),
);
/** Next certificate per server port, so that every server sees the whole pool in a cycle. */
const nextCert = new Map<number, number>();

const REQUEST_KEEPALIVE = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: mtls-bench\r\n\r\n');
const REQUEST_CLOSE = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: mtls-bench\r\nConnection: close\r\n\r\n');

/** Reads HTTP/1.1 responses with a Content-Length from one socket. */
class ResponseReader {
  private buffer = '';
  private waiting: ((status: number) => void) | undefined;
  private failing: ((error: Error) => void) | undefined;

  constructor(readonly socket: tls.TLSSocket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.drain();
    });
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('socket closed before the response')));
  }

  next(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failing = reject;
      this.drain();
    });
  }

  private fail(error: Error): void {
    const reject = this.failing;
    this.waiting = this.failing = undefined;
    reject?.(error);
  }

  private drain(): void {
    if (!this.waiting) return;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffer.slice(0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.fail(new Error(`response without content-length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.slice(total);
    const status = Number(head.slice(9, 12));
    const resolve = this.waiting;
    this.waiting = this.failing = undefined;
    resolve(status);
  }
}

function connect(
  port: number,
  context: tls.SecureContext,
  session: Buffer | undefined,
  onSession?: (ticket: Buffer) => void,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      secureContext: context,
      servername: 'localhost',
      rejectUnauthorized: false,
      ...(session ? { session } : {}),
    });
    // TLS 1.3 tickets can arrive in the same read as the handshake's end: listen from the start.
    if (onSession) socket.on('session', onSession);
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

interface Counters {
  requests: number;
  errors: number;
  resumed: number;
  connections: number;
  latencies: number[];
  firstError?: string;
  recording: boolean;
}

function noteError(c: Counters, error: unknown): void {
  if (c.recording) c.errors++;
  c.firstError ??= error instanceof Error ? error.message : String(error);
}

let openSockets: tls.TLSSocket[] = [];

/** What a slot keeps between the warm-up and the window. */
interface SlotState {
  socket?: tls.TLSSocket | undefined;
  reader?: ResponseReader | undefined;
  session?: Buffer | undefined;
}

async function keepAliveSlot(port: number, c: Counters, until: () => number, state: SlotState, turn: Turn): Promise<void> {
  while (performance.now() < until()) {
    const entering = turn.enter();
    if (entering) await entering;
    try {
      if (performance.now() >= until()) break;
      if (!state.socket || state.socket.destroyed) {
        state.socket = await connect(port, contexts[0]!, undefined);
        openSockets.push(state.socket);
        state.reader = new ResponseReader(state.socket);
      }
      const t0 = performance.now();
      state.socket.write(REQUEST_KEEPALIVE);
      const status = await state.reader!.next();
      if (c.recording) {
        c.latencies.push(performance.now() - t0);
        c.requests++;
        if (status !== 200) c.errors++;
      }
    } catch (error) {
      noteError(c, error);
      state.socket?.destroy();
      state.socket = undefined;
    } finally {
      turn.leave();
    }
  }
}

async function handshakeSlot(
  port: number,
  mode: ModeName,
  c: Counters,
  until: () => number,
  state: SlotState,
  turn: Turn,
): Promise<void> {
  while (performance.now() < until()) {
    const entering = turn.enter();
    if (entering) await entering;
    if (performance.now() >= until()) {
      turn.leave();
      break;
    }
    let context = contexts[0]!;
    if (mode === 'handshakeDistinct') {
      const i = nextCert.get(port) ?? 0;
      nextCert.set(port, (i + 1) % contexts.length);
      context = contexts[i]!;
    }
    const t0 = performance.now();
    let socket: tls.TLSSocket | undefined;
    try {
      socket = await connect(
        port,
        context,
        mode === 'resume' ? state.session : undefined,
        // Keep the newest ticket for the slot's next connection.
        mode === 'resume' ? (ticket) => (state.session = ticket) : undefined,
      );
      const reader = new ResponseReader(socket);
      const resumed = socket.isSessionReused();
      socket.write(REQUEST_CLOSE);
      const status = await reader.next();
      if (c.recording) {
        c.latencies.push(performance.now() - t0);
        c.requests++;
        c.connections++;
        if (resumed) c.resumed++;
        if (status !== 200) c.errors++;
      }
      // Give a late ticket a moment on the first connection of a resuming slot.
      if (mode === 'resume' && !state.session) await new Promise((r) => setTimeout(r, 5));
      socket.destroy();
    } catch (error) {
      noteError(c, error);
      socket?.destroy();
    } finally {
      turn.leave();
    }
  }
}

/** A slot's view of {@link Turns}: always open when servers are served at the same time. */
interface Turn {
  enter(): Promise<void> | undefined;
  leave(): void;
}
const ALWAYS: Turn = { enter: () => undefined, leave: () => {} };

function waitFor(type: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type === type) {
        process.off('message', on);
        resolve();
      }
    };
    process.on('message', on);
  });
}

async function run(m: RunMessage): Promise<void> {
  // One set of counters and slots per server: the servers of a pair are driven at the same time.
  const counters: Counters[] = m.ports.map(() => ({ requests: 0, errors: 0, resumed: 0, connections: 0, latencies: [], recording: false }));
  const warmEnd = performance.now() + m.warmupMs;
  let until = () => warmEnd;
  const states: SlotState[][] = m.ports.map(() => Array.from({ length: m.concurrency }, () => ({})));
  const current = () => until();
  const all = async () => {
    const turns = m.turnMs && m.ports.length > 1 ? new Turns(m.ports.length, m.turnMs) : undefined;
    const turnOf = (i: number): Turn => (turns ? { enter: () => turns.enter(i), leave: () => turns.leave(i) } : ALWAYS);
    turns?.start();
    // A slot waiting for its turn when the window ends must still see the end.
    const ender = turns && setInterval(() => performance.now() >= current() && turns.stop(), Math.min(10, m.turnMs!));
    try {
      await Promise.all(
        m.ports.flatMap((port, i) =>
          states[i]!.map((state) =>
            m.mode === 'keepalive'
              ? keepAliveSlot(port, counters[i]!, current, state, turnOf(i))
              : handshakeSlot(port, m.mode, counters[i]!, current, state, turnOf(i)),
          ),
        ),
      );
    } finally {
      turns?.stop();
      if (ender) clearInterval(ender);
    }
  };
  // Warm-up: the same loops, not recorded. Keep-alive slots keep their sockets for the window.
  await all();
  for (const c of counters) c.firstError = undefined;
  process.send?.({ type: 'warm' });
  await waitFor('go');
  for (const c of counters) c.recording = true;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  // The window lasts durationMs, longer (up to maxDurationMs) until every server has served minRequests: on a
  // busy machine a short window with a handful of requests says nothing.
  const soft = started + m.durationMs;
  const hard = started + (m.maxDurationMs ?? 4 * m.durationMs);
  let enough = false;
  until = () => {
    if (!enough) enough = counters.every((c) => c.requests >= m.minRequests);
    return enough ? soft : hard;
  };
  await all();
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const results: WindowResult[] = counters.map((c) => ({
    requests: c.requests,
    errors: c.errors,
    elapsedMs,
    latenciesMs: c.latencies,
    resumed: c.resumed,
    connections: c.connections,
    cpuMicros: cpu.user + cpu.system,
    ...(c.firstError ? { firstError: c.firstError } : {}),
  }));
  process.send?.({ type: 'done', results });
  await waitFor('close');
  for (const s of openSockets) s.destroy();
  openSockets = [];
  process.send?.({ type: 'closed' });
}

process.on('message', (m: RunMessage | { type: 'exit' }) => {
  if (m.type === 'run') void run(m);
  else if (m.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', certificates: contexts.length });
