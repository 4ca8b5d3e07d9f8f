// Catalog anti-entropy: compare the 256 bucket digests with a peer and pull the entries of every bucket
// that differs. Runs with each peer periodically and whenever a peer (re)appears, so a node that missed
// writes or deletes while it was down catches up; last-writer-wins makes the order of arrival irrelevant.
// A complete pull ends with an acknowledgement to the peer, and a tombstone is purged only once every
// other node of the layout has acknowledged it and its grace period has passed (see tombstone-acks.ts).
// A node back from an absence judges its own catalog by the first peer's digest reply before merging
// anything (absence.ts); a read-only node neither pulls nor purges: its catalog stays as it was.
import { diffBuckets } from "../cluster/digest.ts";
import { type HybridClock, MAX_CLOCK_AHEAD_MS } from "../cluster/hlc.ts";
import type { CatalogStanding } from "../cluster/missed-purges.ts";
import type { TombstoneAcks } from "../cluster/tombstone-acks.ts";
import type { CatalogEntry, Hlc } from "../cluster/types.ts";
import type { Catalog } from "../store/catalog.ts";
import type { Logger } from "./logger.ts";
import type { MeshView } from "./mesh-view.ts";

export const ANTI_ENTROPY_INTERVAL_MS = 5_000;
/**
 * Tombstones are kept at least this long: a node that was down for less than this when a file was
 * deleted receives the tombstone on its return and cannot bring the file back.
 */
export const DEFAULT_TOMBSTONE_GRACE_MS = 7 * 24 * 3600_000;
/** Bounds one exchange: a catalog larger than this many pages is finished in the next round. */
const MAX_PAGES_PER_ROUND = 200;

export interface AntiEntropyOptions {
  mesh: MeshView;
  catalog: Catalog;
  clock: HybridClock;
  log: Logger;
  /** The nodes of the newest layout (every known member under the implicit one): who must acknowledge. */
  layoutNodes: () => readonly string[];
  /** What peers acknowledged of this node's catalog (fed by their catalog.ack requests). */
  acks: TombstoneAcks;
  tombstoneGraceMs?: number;
  /** Wall-clock milliseconds (injected by tests). */
  now?: () => number;
  /** Whether this node may merge: judged from peers' purge horizons (absence.ts); always current if absent. */
  absence?: AbsenceView;
}

/** The part of `Absence` (absence.ts) anti-entropy uses. */
export interface AbsenceView {
  readonly standing: CatalogStanding;
  /** A peer's purge horizon: may settle a returning node's standing. */
  heard(peer: string, purgedThrough: Hlc | undefined): Promise<CatalogStanding>;
  /** Called before each acknowledgement is sent, to keep it. */
  acknowledged(peer: string, through: Hlc): void;
}

export class AntiEntropy {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<string>();
  /** Peers whose entries stamped too far ahead were logged: once each, not every round. */
  private readonly warnedAhead = new Set<string>();
  private readonly mesh: MeshView;
  private readonly catalog: Catalog;
  private readonly clock: HybridClock;
  private readonly log: Logger;
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(private readonly o: AntiEntropyOptions) {
    this.mesh = o.mesh;
    this.catalog = o.catalog;
    this.clock = o.clock;
    this.log = o.log;
    this.graceMs = o.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS;
    this.now = o.now ?? Date.now;
  }

  start(intervalMs = ANTI_ENTROPY_INTERVAL_MS): void {
    this.timer = setInterval(() => this.syncAll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  syncAll(): void {
    if (this.o.absence?.standing === "stale") return;
    const purged = this.purgeAcknowledged();
    if (purged > 0) this.log.info({ purged }, "purged tombstones every layout node acknowledged");
    for (const m of this.mesh.members()) if (m.state === "alive") void this.syncWith(m.nodeId);
  }

  /**
   * Purges the tombstones past their grace period that every other node of the layout has acknowledged
   * holding; returns how many. Alone in the layout, the grace period is the only condition.
   */
  purgeAcknowledged(): number {
    // A returning node purges nothing before it knows its catalog is current.
    if (this.o.absence && this.o.absence.standing !== "current") return 0;
    const olderThan = this.now() - this.graceMs;
    const peers = this.o.layoutNodes().filter((id) => id !== this.mesh.selfId);
    if (peers.length === 0) return this.catalog.purgeTombstones(olderThan);
    const through = this.o.acks.commonThrough(peers);
    return through ? this.catalog.purgeTombstones(olderThan, through) : 0;
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
      if (this.o.absence && (await this.o.absence.heard(nodeId, reply.purgedThrough)) !== "current") return 0;
      const buckets = diffBuckets(this.catalog.bucketDigests(), reply.buckets);
      let applied = 0;
      let refused = 0;
      let complete = buckets.length === 0;
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES_PER_ROUND && !complete; page++) {
        const entries = await conn.request({ t: "catalog.pull", buckets, ...(cursor ? { cursor } : {}) });
        if (entries.t !== "catalog.entries") break;
        // An entry stamped too far ahead stays out: it would win against every write made here until
        // real time caught up with its stamp.
        const accepted = entries.entries.filter((e) => this.clock.accepts(e.hlc));
        refused += entries.entries.length - accepted.length;
        this.clock.observeAll(accepted.map((e) => e.hlc));
        applied += this.catalog.applyMany(accepted.filter((e) => !this.purgedHere(e)));
        cursor = entries.cursor;
        complete = !cursor;
      }
      if (applied > 0) this.log.info({ peer: nodeId.slice(0, 8), applied }, "catalog caught up from peer");
      this.reportRefused(nodeId, refused);
      // Only a pull that left nothing behind vouches for the peer's whole catalog at its digest time.
      if (complete && refused === 0 && reply.through) {
        this.o.absence?.acknowledged(nodeId, reply.through);
        await conn.request({ t: "catalog.ack", through: reply.through });
      }
      return applied;
    } catch (err) {
      this.log.debug({ peer: nodeId.slice(0, 8), err: (err as Error).message }, "anti-entropy round failed");
      return 0;
    } finally {
      this.running.delete(nodeId);
    }
  }

  /**
   * A tombstone past its grace period for a path this node holds nothing of: purged here already (or
   * deleting nothing here), so storing it again would only bring back what the purge removed.
   */
  private purgedHere(entry: CatalogEntry): boolean {
    return (
      entry.deleted &&
      entry.hlc.wall < this.now() - this.graceMs &&
      this.catalog.get(entry.pathId) === undefined
    );
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
