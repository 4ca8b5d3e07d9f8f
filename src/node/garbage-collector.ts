// Garbage collection: deletes this node's copies of chunks no live manifest references, once they are
// older than the grace. Each pass marks in full - every live catalog entry's manifest tree, its index
// objects read here or fetched from the alive members, and the chunk ids they list - then sweeps the
// store. An index object that cannot be fetched might reference anything, so such a pass deletes nothing. Uploads in progress are
// safe by age: their chunks are younger than the grace, and an upload renews them as it goes.
import { decodeIndexObject } from "../client/manifest.ts";
import { childReader, idsUnder } from "../client/manifest-tree.ts";
import type { Catalog } from "../store/catalog.ts";
import type { ChunkStore } from "../store/chunk-store.ts";
import type { Logger } from "./logger.ts";

export const DEFAULT_GC_GRACE_MS = 60 * 60_000;
export const DEFAULT_GC_INTERVAL_MS = 10 * 60_000;
const PARALLEL_DELETES = 16;

export interface GcPassResult {
  reclaimedBytes: number;
  reclaimedChunks: number;
  /** Unreferenced bytes still stored after the pass (younger than the grace, or the pass was skipped). */
  reclaimableBytes: number;
  /** Why nothing was deleted, when a manifest could not be read. */
  skipped?: string;
}

export interface GarbageCollectorOptions {
  catalog: Catalog;
  store: ChunkStore;
  /** The verified bytes of an index object (a manifest root or below), from this node or an alive member. */
  fetchIndexObject: (objectId: string) => Promise<Uint8Array>;
  graceMs: number;
  log: Logger;
  now?: () => number;
  /**
   * Why no chunk may be deleted now (the node's catalog is not the cluster's: read-only, or just
   * rejoined and not yet caught up), or undefined when passes may delete.
   */
  heldBack?: () => string | undefined;
}

export class GarbageCollector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<GcPassResult> | undefined;
  private stopped = false;
  /**
   * Chunks the last complete pass found unreferenced and older than the grace (deleted, or about to be):
   * repair does not push them. Young unreferenced chunks (uploads in progress) are still repaired.
   */
  private condemned = new Set<string>();
  reclaimableBytes: number | null = null;
  reclaimedBytes = 0;

  private readonly readChild;

  constructor(private readonly o: GarbageCollectorOptions) {
    this.readChild = childReader(o.fetchIndexObject);
  }

  start(intervalMs = DEFAULT_GC_INTERVAL_MS): void {
    this.timer = setInterval(() => {
      this.run().catch((err: Error) => this.o.log.warn({ err: err.message }, "garbage collection failed"));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; a pass under way deletes nothing more (see idle). */
  stop(): void {
    clearInterval(this.timer);
    this.stopped = true;
  }

  /** Resolves when no pass is under way. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** True when the last pass found the chunk unreferenced and past the grace: not worth spreading. */
  isCondemned(chunkId: string): boolean {
    return this.condemned.has(chunkId);
  }

  /** One pass (or the pass under way). */
  run(): Promise<GcPassResult> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<GcPassResult> {
    const heldBack = this.o.heldBack?.();
    if (heldBack !== undefined) {
      this.condemned = new Set();
      return {
        reclaimedBytes: 0,
        reclaimedChunks: 0,
        reclaimableBytes: this.reclaimableBytes ?? 0,
        skipped: heldBack,
      };
    }
    const now = this.o.now ?? Date.now;
    const referenced = new Set<string>();
    const marked = new Set<string>();
    const failed = await this.mark(referenced, marked);
    const cutoff = now() - this.o.graceMs;
    const expired: string[] = [];
    let reclaimableBytes = 0;
    for await (const id of this.o.store.list()) {
      if (referenced.has(id)) continue;
      const info = await this.o.store.info(id);
      if (info === undefined) continue;
      reclaimableBytes += info.size;
      if (info.mtimeMs < cutoff) expired.push(id);
    }
    const result = { reclaimedBytes: 0, reclaimedChunks: 0, reclaimableBytes };
    // Re-check right before deleting: entries that became live since the mark reference their chunks too.
    const skipped = failed ?? (await this.mark(referenced, marked));
    if (skipped !== undefined) {
      this.condemned = new Set(); // marked without every manifest: nothing is known unreferenced
      this.reclaimableBytes = reclaimableBytes;
      this.o.log.warn({ reason: skipped }, "garbage collection deleted nothing this pass");
      return { ...result, skipped };
    }
    this.condemned = new Set(expired.filter((id) => !referenced.has(id)));
    const collect = async (id: string) => {
      if (!this.condemned.has(id)) return;
      const freed = await this.o.store.deleteIfOlderThan(id, cutoff);
      if (freed === 0) {
        this.condemned.delete(id); // renewed meanwhile: an upload holds it
        return;
      }
      result.reclaimedBytes += freed;
      result.reclaimedChunks++;
      result.reclaimableBytes -= freed;
    };
    // A few deletes at once: each waits on the file system, not on the CPU.
    for (let i = 0; i < expired.length && !this.stopped; i += PARALLEL_DELETES) {
      await Promise.all(expired.slice(i, i + PARALLEL_DELETES).map(collect));
    }
    this.reclaimableBytes = result.reclaimableBytes;
    this.reclaimedBytes += result.reclaimedBytes;
    if (result.reclaimedChunks > 0) this.o.log.info(result, "garbage collection deleted unreferenced chunks");
    return result;
  }

  /**
   * Adds every live manifest not in `marked`, the index objects of its tree and the chunks they list, to
   * `referenced`. Returns why it could not read one (then nothing may be deleted), or undefined when every
   * manifest was read whole.
   */
  private async mark(referenced: Set<string>, marked: Set<string>): Promise<string | undefined> {
    let problem: string | undefined;
    for (const manifestId of this.o.catalog.liveManifestIds()) {
      if (marked.has(manifestId)) continue;
      referenced.add(manifestId);
      try {
        const root = decodeIndexObject(await this.o.fetchIndexObject(manifestId), manifestId);
        for await (const id of idsUnder(root, this.readChild)) referenced.add(id);
        marked.add(manifestId);
      } catch (err) {
        // Keep marking: reclaimableBytes still counts only what no readable manifest lists.
        problem ??= `manifest ${manifestId.slice(0, 12)} could not be read: ${(err as Error).message}`;
      }
    }
    return problem;
  }
}
