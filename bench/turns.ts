/**
 * Turns between the servers of a window (the load generator's `--pairing turns`): one server
 * at a time gets requests and has the core to itself, and the turns alternate often enough that
 * every server of the window sees the same machine speed.
 */
export class Turns {
  private active = 0;
  private switching = false;
  private readonly inFlight: number[];
  private readonly waiting: (() => void)[][];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly servers: number,
    private readonly turnMs: number,
  ) {
    this.inFlight = Array.from({ length: servers }, () => 0);
    this.waiting = Array.from({ length: servers }, () => []);
  }

  /** Starts the turns: server 0 first, the next one every `turnMs` (0: only on {@link endTurn}). */
  start(): void {
    this.running = true;
    if (this.turnMs > 0) this.timer = setInterval(() => this.endTurn(), this.turnMs);
  }

  /**
   * Ends the current turn: no new request for the active server, and the next server's turn
   * starts as soon as the active one has no request in flight (at once if it has none).
   */
  endTurn(): void {
    if (!this.running) return;
    this.switching = true;
    this.maybeSwitch();
  }

  /** The server whose turn it is. */
  get current(): number {
    return this.active;
  }

  /** Ends the turns: every waiting slot goes on (and sees that its window is over). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.running = false;
    this.switching = false;
    for (const list of this.waiting) for (const wake of list.splice(0)) wake();
  }

  /** Resolves when server `i` may get a request; pair with {@link leave}. */
  async enter(i: number): Promise<void> {
    while (this.running && (this.active !== i || this.switching)) {
      await new Promise<void>((resolve) => this.waiting[i]!.push(resolve));
    }
    this.inFlight[i]!++;
  }

  leave(i: number): void {
    this.inFlight[i]!--;
    this.maybeSwitch();
  }

  private maybeSwitch(): void {
    if (!this.switching || this.inFlight[this.active]! > 0) return;
    this.switching = false;
    this.active = (this.active + 1) % this.servers;
    for (const wake of this.waiting[this.active]!.splice(0)) wake();
  }
}
