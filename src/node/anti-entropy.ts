// Catalog anti-entropy: compare the 256 bucket digests with a peer and pull the entries of every bucket
// that differs. Runs with each peer periodically and whenever a peer (re)appears, so a node that missed
// writes or deletes while it was down catches up; last-writer-wins makes the order of arrival irrelevant.
import { diffBuckets } from "../cluster/digest.ts";
import { type HybridClock, MAX_CLOCK_AHEAD_MS } from "../cluster/hlc.ts";
import type { Catalog } from "../store/catalog.ts";
import type { Logger } from "./logger.ts";
import type { MeshView } from "./mesh-view.ts";

export const ANTI_ENTROPY_INTERVAL_MS = 5_000;
/**
 * Tombstones are kept this long: a node that was down for less than this when a file was deleted
 * receives the tombstone on its return and cannot bring the file back.
 */
export const TOMBSTONE_GRACE_MS = 7 * 24 * 3600_000;
/** Bounds one exchange: a catalog larger than this many pages is finished in the next round. */
const MAX_PAGES_PER_ROUND = 200;

export class AntiEntropy {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<string>();
  /** Peers whose entries stamped too far ahead were logged: once each, not every round. */
  private readonly warnedAhead = new Set<string>();

  constructor(
    private readonly mesh: MeshView,
    private readonly catalog: Catalog,
    private readonly clock: HybridClock,
    private readonly log: Logger,
  ) {}

  start(intervalMs = ANTI_ENTROPY_INTERVAL_MS): void {
    this.timer = setInterval(() => this.syncAll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  syncAll(): void {
    const purged = this.catalog.purgeTombstones(Date.now() - TOMBSTONE_GRACE_MS);
    if (purged > 0) this.log.info({ purged }, "purged tombstones past their grace period");
    for (const m of this.mesh.members()) if (m.state === "alive") void this.syncWith(m.nodeId);
  }

  /** Pulls from one peer what it has and we lack; returns how many entries won here. */
  async syncWith(nodeId: string): Promise<number> {
    if (this.running.has(nodeId)) return 0;
    const conn = this.mesh.connection(nodeId);
    if (!conn) return 0;
    this.running.add(nodeId);
    try {
      const reply = await conn.request({ t: "catalog.digest" });
      if (reply.t !== "catalog.digest.reply") return 0;
      const buckets = diffBuckets(this.catalog.bucketDigests(), reply.buckets);
      if (buckets.length === 0) return 0;
      let applied = 0;
      let refused = 0;
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES_PER_ROUND; page++) {
        const entries = await conn.request({ t: "catalog.pull", buckets, ...(cursor ? { cursor } : {}) });
        if (entries.t !== "catalog.entries") break;
        // An entry stamped too far ahead stays out: it would win against every write made here until
        // real time caught up with its stamp.
        const accepted = entries.entries.filter((e) => this.clock.accepts(e.hlc));
        refused += entries.entries.length - accepted.length;
        this.clock.observeAll(accepted.map((e) => e.hlc));
        applied += this.catalog.applyMany(accepted);
        cursor = entries.cursor;
        if (!cursor) break;
      }
      if (applied > 0) this.log.info({ peer: nodeId.slice(0, 8), applied }, "catalog caught up from peer");
      this.reportRefused(nodeId, refused);
      return applied;
    } catch (err) {
      this.log.debug({ peer: nodeId.slice(0, 8), err: (err as Error).message }, "anti-entropy round failed");
      return 0;
    } finally {
      this.running.delete(nodeId);
    }
  }

  private reportRefused(nodeId: string, refused: number): void {
    if (refused === 0) {
      this.warnedAhead.delete(nodeId);
      return;
    }
    if (this.warnedAhead.has(nodeId)) return;
    this.warnedAhead.add(nodeId);
    this.log.warn(
      { peer: nodeId.slice(0, 8), refused, limitMs: MAX_CLOCK_AHEAD_MS },
      "refused catalog entries stamped too far ahead of this node's clock",
    );
  }
}
