/**
 * The load generator: a child process that drives the servers of a window over raw TLS sockets
 * with a minimal HTTP/1.1 client (cheap on its own core), presenting client certificates. The
 * servers take turns (bench/turns.ts). `node --import tsx bench/load.ts <certDir>`. One window at
 * a time, over IPC:
 *   parent → { type: 'run', ports, mode, concurrency, turnMs, warmupMs, durationMs, minRequests }
 *   child  → { type: 'warm' }             after the warm-up (keep-alive sockets stay open)
 *   parent → { type: 'go' }               once it has read the servers' CPU clocks
 *   child  → { type: 'done', results }    one per port, once every request in flight ended
 *   parent → { type: 'close' }            once it has read the servers' CPU clocks again
 *   child  → { type: 'closed' }
 */
import tls from 'node:tls';
import { readCertFiles } from './certs.js';
import { Turns } from './turns.js';
import type { ModeName } from './variants.js';

export interface WindowResult {
  readonly requests: number;
  readonly errors: number;
  /** How long the server had its turns in the window. */
  readonly elapsedMs: number;
  /** Connections whose TLS session was resumed, and connections made (handshake modes). */
  readonly resumed: number;
  readonly connections: number;
  readonly firstError?: string;
}

interface RunMessage {
  readonly type: 'run';
  readonly ports: readonly number[];
  readonly mode: ModeName;
  /** Requests in flight to the server whose turn it is. */
  readonly concurrency: number;
  readonly turnMs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Fewest requests per server before the window may end; it ends at four times durationMs regardless. */
  readonly minRequests: number;
}

const certs = readCertFiles(process.argv[2]!);
const contexts = certs.clientCertPems.map((cert) => tls.createSecureContext({ key: certs.clientKeyPem, cert, ca: certs.caPem }));
let nextCert = 0;

const REQUEST = 'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: mtls-bench\r\n';
const KEEP_ALIVE = Buffer.from(`${REQUEST}\r\n`);
const CLOSE = Buffer.from(`${REQUEST}Connection: close\r\n\r\n`);

/** Reads HTTP/1.1 responses with a Content-Length from one socket, one at a time. */
class ResponseReader {
  private buffer = '';
  private pending: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;

  constructor(socket: tls.TLSSocket) {
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
      this.pending = { resolve, reject };
      this.drain();
    });
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  private drain(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (!this.pending || end < 0) return;
    const head = this.buffer.slice(0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return this.fail(new Error(`response without content-length: ${head.slice(0, 200)}`));
    const total = end + 4 + Number(length[1]);
    if (this.buffer.length < total) return;
    this.buffer = this.buffer.slice(total);
    const pending = this.pending;
    this.pending = undefined;
    pending.resolve(Number(head.slice(9, 12)));
  }
}

function connect(port: number, secureContext: tls.SecureContext, session?: Buffer, onSession?: (ticket: Buffer) => void): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, secureContext, servername: 'localhost', rejectUnauthorized: false, ...(session ? { session } : {}) });
    // A TLS 1.3 ticket can arrive in the same read as the handshake's end: listen from the start.
    if (onSession) socket.on('session', onSession);
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

interface Counts {
  requests: number;
  errors: number;
  resumed: number;
  connections: number;
  firstError?: string;
}
const noCounts = (): Counts => ({ requests: 0, errors: 0, resumed: 0, connections: 0 });

/** What a slot keeps from the warm-up into the window: its keep-alive socket or its session ticket. */
interface Slot {
  socket?: tls.TLSSocket | undefined;
  reader?: ResponseReader | undefined;
  session?: Buffer | undefined;
}

async function oneRequest(m: RunMessage, port: number, slot: Slot, counts: Counts): Promise<void> {
  if (m.mode === 'keepalive') {
    if (!slot.socket || slot.socket.destroyed) {
      slot.socket = await connect(port, contexts[0]!);
      slot.reader = new ResponseReader(slot.socket);
    }
    slot.socket.write(KEEP_ALIVE);
    if ((await slot.reader!.next()) !== 200) counts.errors++;
    counts.requests++;
    return;
  }
  const context = m.mode === 'handshakeDistinct' ? contexts[nextCert++ % contexts.length]! : contexts[0]!;
  const resume = m.mode === 'resume';
  const socket = await connect(port, context, resume ? slot.session : undefined, resume ? (t) => (slot.session = t) : undefined);
  try {
    const reader = new ResponseReader(socket);
    if (socket.isSessionReused()) counts.resumed++;
    socket.write(CLOSE);
    if ((await reader.next()) !== 200) counts.errors++;
    counts.requests++;
    counts.connections++;
    // The first connection of a resuming slot gives its ticket a moment to arrive.
    if (resume && !slot.session) await new Promise((r) => setTimeout(r, 5));
  } finally {
    socket.destroy();
  }
}

/** Every server's slots, taking turns, until `until()`. Returns each server's time in its turns. */
async function drive(m: RunMessage, slots: readonly Slot[][], counts: readonly Counts[], until: () => number): Promise<number[]> {
  const turns = new Turns(m.ports.length, m.turnMs);
  // A slot waiting for its turn when the window ends must still see the end.
  const ender = setInterval(() => performance.now() >= until() && turns.stop(), 5);
  try {
    await Promise.all(
      m.ports.flatMap((port, i) =>
        slots[i]!.map(async (slot) => {
          for (;;) {
            await turns.enter(i);
            try {
              if (performance.now() >= until()) return;
              await oneRequest(m, port, slot, counts[i]!);
            } catch (error) {
              counts[i]!.errors++;
              counts[i]!.firstError ??= error instanceof Error ? error.message : String(error);
              slot.socket?.destroy();
              slot.socket = undefined;
            } finally {
              turns.leave();
            }
          }
        }),
      ),
    );
    return turns.heldMs;
  } finally {
    turns.stop();
    clearInterval(ender);
  }
}

function message(type: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve();
    };
    process.on('message', on);
  });
}

/** Each server's session tickets, kept from window to window as a client with a session cache would. */
const tickets = new Map<number, (Buffer | undefined)[]>();

async function run(m: RunMessage): Promise<void> {
  const slots: Slot[][] = m.ports.map((port) => Array.from({ length: m.concurrency }, (_, i) => ({ session: tickets.get(port)?.[i] })));
  const warmEnd = performance.now() + m.warmupMs;
  await drive(m, slots, m.ports.map(noCounts), () => warmEnd);
  process.send?.({ type: 'warm' });
  await message('go');
  const counts = m.ports.map(noCounts);
  const started = performance.now();
  // On a busy machine a short window with a handful of requests says nothing: it goes on (up to
  // four times as long) until every server has served minRequests.
  const until = () => started + (counts.every((c) => c.requests >= m.minRequests) ? 1 : 4) * m.durationMs;
  const heldMs = await drive(m, slots, counts, until);
  const results: WindowResult[] = counts.map((c, i) => ({ ...c, elapsedMs: heldMs[i]! }));
  process.send?.({ type: 'done', results });
  m.ports.forEach((port, i) => tickets.set(port, slots[i]!.map((slot) => slot.session)));
  await message('close');
  for (const slot of slots.flat()) slot.socket?.destroy();
  process.send?.({ type: 'closed' });
}

if (process.send) {
  process.on('message', (m: RunMessage | { type: 'exit' }) => {
    if (m.type === 'run') void run(m);
    else if (m.type === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready' });
}
