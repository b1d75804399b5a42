/**
 * Whose turn it is among the servers of a window. One server at a time gets requests and has its
 * core to itself, as a production server would; the turns are short, so every server sees the same
 * moments of a shared machine. A turn ends `turnMs` after it began; the next server's begins once
 * the last request in flight to the current one has ended, so two servers never work at the same
 * time and every turn is as long as the others.
 */
export class Turns {
  current = 0;
  /** How long each server has had its turns, ms. */
  readonly heldMs: number[];
  private turnStart = performance.now();
  private switching = false;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = true;

  /** `turnMs` 0: turns end only on {@link endTurn}. */
  constructor(
    private readonly servers: number,
    private readonly turnMs: number,
  ) {
    this.heldMs = Array.from({ length: servers }, () => 0);
    this.startTimer();
  }

  endTurn(): void {
    this.switching = true;
    this.maybeSwitch();
  }

  /** Resolves when server `i` may get a request (at once after {@link stop}); pair with {@link leave}. */
  async enter(i: number): Promise<void> {
    while (this.running && (this.current !== i || this.switching)) await new Promise<void>((wake) => this.waiting.push(wake));
    this.inFlight++;
  }

  leave(): void {
    this.inFlight--;
    this.maybeSwitch();
  }

  stop(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.running = false;
    this.heldMs[this.current]! += performance.now() - this.turnStart;
    this.wakeAll();
  }

  private maybeSwitch(): void {
    if (!this.running || !this.switching || this.inFlight > 0) return;
    this.switching = false;
    const now = performance.now();
    this.heldMs[this.current]! += now - this.turnStart;
    this.turnStart = now;
    this.current = (this.current + 1) % this.servers;
    this.startTimer();
    this.wakeAll();
  }

  private startTimer(): void {
    if (this.turnMs > 0) this.timer = setTimeout(() => this.endTurn(), this.turnMs);
  }

  private wakeAll(): void {
    for (const wake of this.waiting.splice(0)) wake();
  }
}
