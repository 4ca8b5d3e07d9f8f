// Paces a stream of transfers to a byte rate: each transfer books its bytes on a timeline that advances
// at `bytesPerSecond`, and waits until the timeline reaches it. Repair uses it so moving copies after a
// layout change never takes more than its share of the disks and the network (`cluster.rebalanceMBps`).

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class BytePacer {
  /** When the bytes booked so far will have gone out at the rate, in clock milliseconds. */
  private due = 0;

  /** `bytesPerSecond` 0 or Infinity: no limit. */
  constructor(
    private readonly bytesPerSecond: number,
    private readonly clock: Clock = realClock,
  ) {}

  /** Resolves when `bytes` more may go without exceeding the rate. */
  async take(bytes: number): Promise<void> {
    if (!(this.bytesPerSecond > 0) || this.bytesPerSecond === Number.POSITIVE_INFINITY) return;
    const now = this.clock.now();
    // Idle time is not saved up: a burst after a quiet spell starts at the rate, not above it.
    const start = Math.max(this.due, now);
    this.due = start + (bytes * 1000) / this.bytesPerSecond;
    if (start > now) await this.clock.sleep(start - now);
  }
}
