// Scrub: re-hash every stored chunk in the pool, one at a time, and quarantine any copy whose bytes no
// longer match its id. Repair on the other holders then sees the home lacking that chunk and pushes a
// good copy back. Reads verify too; scrub finds rot in chunks nobody reads.
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import type { Logger } from "./logger.ts";

export const SCRUB_INTERVAL_MS = 10 * 60_000;

export class Scrub {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly store: ChunkStore,
    private readonly pool: CryptoPool,
    private readonly log: Logger,
  ) {}

  start(intervalMs = SCRUB_INTERVAL_MS): void {
    this.timer = setInterval(() => void this.run(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; a pass under way ends at its next chunk (see idle). */
  stop(): void {
    clearInterval(this.timer);
    this.stopped = true;
  }

  /** Resolves when no pass is under way. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** One pass over the store (or the pass under way); resolves to how many copies were quarantined. */
  run(): Promise<number> {
    this.running ??= this.pass()
      .catch((err: Error) => {
        // The listing itself failed (the store closing under it): the next pass starts over.
        this.log.warn({ err: err.message }, "scrub pass stopped");
        return 0;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(): Promise<number> {
    let quarantined = 0;
    for await (const id of this.store.list()) {
      if (this.stopped) break;
      try {
        const { id: actual } = await this.pool.hash(await this.store.getUnverified(id));
        if (actual === id) continue;
        await this.store.quarantine(id);
        quarantined++;
        this.log.warn({ chunkId: id }, "scrub quarantined a corrupt chunk copy");
      } catch (err) {
        this.log.debug({ chunkId: id, err: (err as Error).message }, "scrub skipped a chunk");
      }
    }
    return quarantined;
  }
}
