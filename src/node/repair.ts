// Repair: every chunk this node holds should have a copy on each of its R homes under the newest layout
// (alive or not). After a membership or layout change and periodically, the node asks the alive homes
// which chunks they lack and pushes them, one at a time so repair never starves client traffic. A copy
// held here that is not on a home (a stand-in's, or one left by a layout change) is dropped once every
// home has re-hashed its own copy and found it good. Chunks garbage collection condemned are not pushed,
// nor copies to a home whose disk is full (they go once its heartbeat says it has room again).
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import { BytePacer } from "./byte-pacer.ts";
import type { Placement } from "./layout-keeper.ts";
import type { Logger } from "./logger.ts";
import type { MeshView } from "./mesh-view.ts";

export const REPAIR_INTERVAL_MS = 30_000;
const BATCH = 512;

export interface RepairOptions {
  mesh: MeshView;
  store: Pick<ChunkStore, "list" | "getUnverified" | "quarantine" | "delete">;
  pool: Pick<CryptoPool, "hash">;
  placement: Placement;
  log: Logger;
  /** Chunks garbage collection is about to delete: pushing them would only bring them back. */
  skip?: (chunkId: string) => boolean;
  /** Called after a scan found every chunk held here on all its homes (a layout change has settled here). */
  onClean?: () => void;
  /** Homes below their free-space reserve take no copies. */
  fullNodes?: { isFull(nodeId: string): boolean };
  /** The most bytes per second repair pushes (config cluster.rebalanceMBps); 0 or absent: no limit. */
  bytesPerSecond?: number;
}

export class Repair {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /**
   * Chunks held here whose homes lacked a copy at the end of the last scan, each counted only by its
   * highest-ranked holder the scan heard of (a home above this node that holds it counts it instead),
   * so the nodes' figures add up to a cluster-wide count; null before the first scan.
   */
  underReplicated: number | null = null;
  /** Copies dropped here since start because every home held the chunk. */
  dropped = 0;
  /** Copies held here off their homes after the last scan (still to hand over); null before one. */
  misplaced: number | null = null;

  private readonly pacer: BytePacer;

  constructor(private readonly o: RepairOptions) {
    this.pacer = new BytePacer(o.bytesPerSecond ?? 0);
  }

  start(intervalMs = REPAIR_INTERVAL_MS): void {
    this.timer = setInterval(() => this.trigger(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; a scan under way ends at its next batch (see idle). */
  stop(): void {
    clearInterval(this.timer);
    this.stopped = true;
  }

  /** Starts a scan, or schedules one more right after the scan under way. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.scan()
      .catch((err: Error) => this.o.log.warn({ err: err.message }, "repair scan failed"))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Resolves when no scan is under way (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async scan(): Promise<void> {
    let under = 0;
    let lacking = 0;
    let pushed = 0;
    let dropped = 0;
    let misplaced = 0;
    let batch: string[] = [];
    const flush = async () => {
      const result = await this.repairBatch(batch);
      under += result.under;
      lacking += result.lacking;
      pushed += result.pushed;
      dropped += result.dropped;
      misplaced += result.misplaced - result.dropped;
      batch = [];
    };
    for await (const id of this.o.store.list()) {
      if (this.stopped) return; // a partial scan's counts would mislead
      if (this.o.skip?.(id)) continue;
      batch.push(id);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    if (this.stopped) return;
    this.underReplicated = under;
    this.misplaced = misplaced;
    this.dropped += dropped;
    if (pushed > 0 || dropped > 0) {
      this.o.log.info({ pushed, dropped, underReplicated: under }, "repair moved copies to their homes");
    }
    // Clean means every chunk held here is on all its homes, whichever holder counts it as under.
    if (lacking === 0) this.o.onClean?.();
    // Copies moved: look again at once for what arrived meanwhile (writes that still went to the old
    // homes), rather than at the next periodic scan. A scan that moves nothing ends this.
    if (pushed > 0 || dropped > 0) this.again = true;
  }

  private async repairBatch(
    ids: string[],
  ): Promise<{ under: number; lacking: number; pushed: number; dropped: number; misplaced: number }> {
    const { mesh, store, pool, placement } = this.o;
    const wanted = new Map<string, string[]>(); // peer -> chunk ids it should hold
    const misplaced: string[] = []; // held here, this node not a home
    for (const id of ids) {
      const homes = placement.homes(id);
      if (!homes.includes(mesh.selfId)) misplaced.push(id);
      for (const home of homes) {
        if (home === mesh.selfId) continue;
        wanted.set(home, [...(wanted.get(home) ?? []), id]);
      }
    }
    const lacking = new Set<string>();
    /** Per chunk, the homes that said they hold it. */
    const heldBy = new Map<string, Set<string>>();
    let pushed = 0;
    for (const [peer, chunkIds] of wanted) {
      const conn = mesh.connection(peer);
      if (!conn) {
        for (const id of chunkIds) lacking.add(id);
        continue;
      }
      const reply = await conn.request({ t: "chunk.has", chunkIds }).catch(() => undefined);
      if (reply?.t !== "chunk.have") {
        for (const id of chunkIds) lacking.add(id);
        continue;
      }
      for (const [i, id] of chunkIds.entries()) {
        if (reply.have[i]) {
          heldBy.set(id, (heldBy.get(id) ?? new Set()).add(peer));
          continue;
        }
        if (this.o.fullNodes?.isFull(peer)) {
          lacking.add(id);
          continue;
        }
        try {
          const { id: actual, bytes } = await pool.hash(await store.getUnverified(id));
          if (actual !== id) {
            await store.quarantine(id);
            lacking.add(id);
            continue; // never spread a corrupt copy; another holder repairs this chunk
          }
          await this.pacer.take(bytes.length);
          await conn.request({ t: "chunk.put", chunkId: id, data: bytes });
          pushed++;
        } catch {
          lacking.add(id);
        }
      }
    }
    const countedHere = [...lacking].filter((id) => {
      const ranked = placement.homes(id);
      const self = ranked.indexOf(mesh.selfId);
      const above = self === -1 ? ranked : ranked.slice(0, self);
      return !above.some((home) => heldBy.get(id)?.has(home));
    });
    // A copy off its homes is surplus once every home has re-hashed its own copy and found it good.
    let dropped = 0;
    for (const id of await this.verifiedOnEveryHome(misplaced.filter((id) => !lacking.has(id)))) {
      if (await store.delete(id).catch(() => false)) dropped++;
    }
    return { under: countedHere.length, lacking: lacking.size, pushed, dropped, misplaced: misplaced.length };
  }

  /** The chunks of `ids` that every one of their homes holds a verified copy of (`chunk.has` with verify). */
  private async verifiedOnEveryHome(ids: string[]): Promise<string[]> {
    const { mesh, placement } = this.o;
    const asked = new Map<string, string[]>(); // home -> chunk ids to verify there
    for (const id of ids) {
      for (const home of placement.homes(id)) asked.set(home, [...(asked.get(home) ?? []), id]);
    }
    const unverified = new Set<string>();
    for (const [home, chunkIds] of asked) {
      const conn = mesh.connection(home);
      const reply = conn
        ? await conn.request({ t: "chunk.has", chunkIds, verify: true }).catch(() => undefined)
        : undefined;
      for (const [i, id] of chunkIds.entries()) {
        if (reply?.t !== "chunk.have" || !reply.have[i]) unverified.add(id);
      }
    }
    return ids.filter((id) => !unverified.has(id));
  }
}
