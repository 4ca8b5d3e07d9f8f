// Repair: every chunk this node holds should have a copy on each of its R homes (the top R members by
// rendezvous rank, alive or not). After a membership change and periodically, the node asks the alive
// homes which chunks they lack and pushes them, one at a time so repair never starves client traffic.
// Extra copies (held by a stand-in while a home was down) are kept: dropping them is left for later.
// Chunks garbage collection found unreferenced are not pushed, nor copies to a home whose disk is full
// (they go once its heartbeat says it has room again).
import { homes } from "../cluster/placement.ts";
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import type { Logger } from "./logger.ts";
import type { MeshView } from "./mesh-view.ts";

export const REPAIR_INTERVAL_MS = 30_000;
const BATCH = 512;

export class Repair {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /**
   * Chunks held here whose homes lacked a copy at the end of the last scan, each counted only by its
   * highest-ranked holder the scan heard of (a home above this node that holds it counts it instead),
   * so the nodes' figures add up to a cluster-wide count; null before the first scan.
   */
  underReplicated: number | null = null;

  constructor(
    private readonly mesh: MeshView,
    private readonly store: ChunkStore,
    private readonly pool: CryptoPool,
    private readonly replication: number,
    private readonly log: Logger,
    /** Chunks garbage collection is about to delete: pushing them would only bring them back. */
    private readonly skip: (chunkId: string) => boolean = () => false,
    /** Homes below their free-space reserve take no copies. */
    private readonly fullNodes: { isFull(nodeId: string): boolean } = { isFull: () => false },
  ) {}

  start(intervalMs = REPAIR_INTERVAL_MS): void {
    this.timer = setInterval(() => this.trigger(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Starts a scan, or schedules one more right after the scan under way. */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.scan()
      .catch((err: Error) => this.log.warn({ err: err.message }, "repair scan failed"))
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
    const everyone = [this.mesh.selfId, ...this.mesh.members().map((m) => m.nodeId)];
    let under = 0;
    let pushed = 0;
    let batch: string[] = [];
    const flush = async () => {
      const result = await this.repairBatch(batch, everyone);
      under += result.under;
      pushed += result.pushed;
      batch = [];
    };
    for await (const id of this.store.list()) {
      if (this.skip(id)) continue;
      batch.push(id);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    this.underReplicated = under;
    if (pushed > 0) this.log.info({ pushed, underReplicated: under }, "repair pushed missing copies");
  }

  private async repairBatch(ids: string[], everyone: string[]): Promise<{ under: number; pushed: number }> {
    const wanted = new Map<string, string[]>(); // peer -> chunk ids it should hold
    for (const id of ids) {
      for (const home of homes(id, everyone, this.replication)) {
        if (home === this.mesh.selfId) continue;
        wanted.set(home, [...(wanted.get(home) ?? []), id]);
      }
    }
    const lacking = new Set<string>();
    /** Per chunk, the homes that said they hold it. */
    const heldBy = new Map<string, Set<string>>();
    let pushed = 0;
    for (const [peer, chunkIds] of wanted) {
      const conn = this.mesh.connection(peer);
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
        if (this.fullNodes.isFull(peer)) {
          lacking.add(id);
          continue;
        }
        try {
          const { id: actual, bytes } = await this.pool.hash(await this.store.getUnverified(id));
          if (actual !== id) {
            await this.store.quarantine(id);
            continue; // never spread a corrupt copy; another holder repairs this chunk
          }
          await conn.request({ t: "chunk.put", chunkId: id, data: bytes });
          pushed++;
        } catch {
          lacking.add(id);
        }
      }
    }
    const countedHere = [...lacking].filter((id) => {
      const ranked = homes(id, everyone, this.replication);
      const self = ranked.indexOf(this.mesh.selfId);
      const above = self === -1 ? ranked : ranked.slice(0, self);
      return !above.some((home) => heldBy.get(id)?.has(home));
    });
    return { under: countedHere.length, pushed };
  }
}
