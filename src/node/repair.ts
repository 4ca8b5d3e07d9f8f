// Repair: every chunk this node holds should have a copy on each of its R homes under the newest layout
// (alive or not). After a membership or layout change and periodically, the node asks the alive homes
// which chunks they lack and pushes them, one at a time so repair never starves client traffic. A copy
// held here that is not on a home (a stand-in's, or one left by a layout change) is dropped once every
// home has re-hashed its own copy and found it good. Chunks garbage collection condemned are not pushed,
// nor copies to a home whose disk is full (they go once its heartbeat says it has room again).
// A scan first only asks (a survey), so it knows the bytes it owes the homes before it moves any: that,
// less what it has pushed since, is the "bytes left to move" status shows, with an ETA at the rate it
// moves them. A survey that finds nothing to push or drop is the whole scan.
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import { BytePacer, type Clock } from "./byte-pacer.ts";
import type { Placement } from "./layout-keeper.ts";
import type { Logger } from "./logger.ts";
import type { MeshView } from "./mesh-view.ts";

export const REPAIR_INTERVAL_MS = 30_000;
const BATCH = 512;

export interface RepairOptions {
  mesh: MeshView;
  store: Pick<ChunkStore, "list" | "getUnverified" | "quarantine" | "delete" | "info">;
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
  /** The clock of the pacer and of the measured rate (a fake in unit tests). */
  clock?: Clock;
}

/** What repair has left to do here and how fast it goes, for status, the monitor and metrics. */
export interface RepairProgress {
  /** Copies held here off their homes at the last scan (still to hand over); null before one. */
  misplaced: number | null;
  /** Bytes of copies this node still owes homes that lack them (null before the first survey). */
  bytesToMove: number | null;
  /** Bytes repair pushed to other nodes since start. */
  bytesMoved: number;
  /** Copies dropped here since start because every home held the chunk. */
  copiesDropped: number;
  /** The rate copies go out at: measured during the pass under way, else the paced limit; null: unknown. */
  bytesPerSecond: number | null;
  /** Seconds until `bytesToMove` is moved at that rate; null when unknown (no rate, or nothing is moving). */
  etaSeconds: number | null;
}

interface BatchResult {
  under: number;
  lacking: number;
  /** Copies homes lacked that this node could send (the home connected and with room). */
  owed: number;
  owedBytes: number;
  pushed: number;
  pushedBytes: number;
  dropped: number;
  misplaced: number;
}

/** A measured rate needs this much time behind it before it replaces the paced one. */
const RATE_SAMPLE_MS = 1_000;

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

  /** Bytes of copies still owed to homes: the survey's figure less what was pushed since; null before one. */
  private owedBytes: number | null = null;
  private movedBytes = 0;
  /** The pass that pushes: when it began and what it has pushed, for the measured rate. */
  private pushing: { since: number; bytes: number } | undefined;

  private readonly pacer: BytePacer;
  private readonly now: () => number;

  constructor(private readonly o: RepairOptions) {
    this.pacer = new BytePacer(o.bytesPerSecond ?? 0, o.clock);
    this.now = o.clock ? () => (o.clock as Clock).now() : Date.now;
  }

  progress(): RepairProgress {
    const paced = (this.o.bytesPerSecond ?? 0) > 0 ? (this.o.bytesPerSecond as number) : null;
    const elapsed = this.pushing ? this.now() - this.pushing.since : 0;
    const measured =
      this.pushing && elapsed >= RATE_SAMPLE_MS && this.pushing.bytes > 0
        ? (this.pushing.bytes * 1000) / elapsed
        : null;
    const rate = measured ?? paced;
    const left = this.owedBytes;
    let eta: number | null = null;
    if (left === 0) eta = 0;
    else if (left !== null && rate !== null && this.pushing) eta = Math.ceil(left / rate);
    return {
      misplaced: this.misplaced,
      bytesToMove: left,
      bytesMoved: this.movedBytes,
      copiesDropped: this.dropped,
      bytesPerSecond: rate === null ? null : Math.round(rate),
      etaSeconds: eta,
    };
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
    let result = await this.pass(false);
    if (this.stopped) return; // a partial scan's counts would mislead
    this.owedBytes = result.owedBytes;
    this.misplaced = result.misplaced;
    if (result.owed > 0 || result.misplaced > 0) {
      this.pushing = { since: this.now(), bytes: 0 };
      try {
        result = await this.pass(true);
        if (this.stopped) return;
      } finally {
        this.pushing = undefined;
      }
      this.owedBytes = Math.max(0, result.owedBytes - result.pushedBytes);
    }
    const { under, lacking, pushed, dropped } = result;
    this.underReplicated = under;
    this.misplaced = result.misplaced - dropped;
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

  /** One pass over every chunk held here; without `act` it only asks the homes (the survey). */
  private async pass(act: boolean): Promise<BatchResult> {
    const total: BatchResult = {
      under: 0,
      lacking: 0,
      owed: 0,
      owedBytes: 0,
      pushed: 0,
      pushedBytes: 0,
      dropped: 0,
      misplaced: 0,
    };
    let batch: string[] = [];
    const flush = async () => {
      const result = await this.repairBatch(batch, act);
      for (const key of Object.keys(total) as (keyof BatchResult)[]) total[key] += result[key];
      batch = [];
    };
    for await (const id of this.o.store.list()) {
      if (this.stopped) return total; // the scan drops a stopped pass's counts
      if (this.o.skip?.(id)) continue;
      batch.push(id);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return total;
  }

  private async repairBatch(ids: string[], act: boolean): Promise<BatchResult> {
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
    let pushedBytes = 0;
    let owed = 0;
    let owedBytes = 0;
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
        owed++;
        if (!act) {
          owedBytes += (await store.info(id).catch(() => undefined))?.size ?? 0;
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
          owedBytes += bytes.length;
          await this.pacer.take(bytes.length);
          await conn.request({ t: "chunk.put", chunkId: id, data: bytes });
          pushed++;
          pushedBytes += bytes.length;
          this.movedBytes += bytes.length;
          if (this.pushing) this.pushing.bytes += bytes.length;
          if (this.owedBytes !== null) this.owedBytes = Math.max(0, this.owedBytes - bytes.length);
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
    const droppable = act ? misplaced.filter((id) => !lacking.has(id)) : [];
    for (const id of await this.verifiedOnEveryHome(droppable)) {
      if (await store.delete(id).catch(() => false)) dropped++;
    }
    return {
      under: countedHere.length,
      lacking: lacking.size,
      owed,
      owedBytes,
      pushed,
      pushedBytes,
      dropped,
      misplaced: misplaced.length,
    };
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
