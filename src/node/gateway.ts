// The gateway: what a node does for the client connected to it. It places each sealed chunk on its
// homes (rendezvous hashing over alive members with room on their disks) and acknowledges once W
// copies are on disk, fetches reads from any replica and verifies them, and stamps and replicates
// catalog entries. It only ever handles what the client sends: ciphertext, ids and sizes.
import { type HybridClock, MAX_CLOCK_AHEAD_MS } from "../cluster/hlc.ts";
import type { PeerClocks } from "../cluster/peer-clocks.ts";
import type { CatalogEntry } from "../cluster/types.ts";
import { DmfsError, isDmfsError } from "../errors.ts";
import type { FileCommit } from "../protocol/messages.ts";
import type { CatalogGroupCommit } from "../store/catalog-group-commit.ts";
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import { replyErrorFor } from "./error-replies.ts";
import type { FileQuery } from "./file-lookup.ts";
import { memberPlacement, type Placement } from "./layout-keeper.ts";
import type { Logger } from "./logger.ts";
import { aliveCount, liveness, type MeshView } from "./mesh-view.ts";
import type { Activity } from "./status-publisher.ts";

export interface GatewayOptions {
  mesh: MeshView;
  replication: number;
  writeQuorum: number;
  /** The garbage collection grace, told to uploads so they renew their chunks well within it. */
  gcGraceMs: number;
  store: ChunkStore;
  /** Catalog writes, committed in groups. */
  catalogWrites: CatalogGroupCommit;
  pool: CryptoPool;
  clock: HybridClock;
  /** The peers' wall clocks as heard in their heartbeats: a node far ahead of them stamps nothing. */
  peerClocks?: PeerClocks;
  activity: Activity;
  log: Logger;
  /** Placement under the layout; by default over this node and every member, equally weighted. */
  placement?: Placement;
  /** Nodes below their free-space reserve (this one included): writes place no copies on them. */
  fullNodes?: FullNodes;
  /** Local paths (the node's root) that errors sent to the client must not carry. */
  localPaths?: readonly string[];
}

export interface FullNodes {
  /** Whether the node takes no new copies: its disk is below its reserve, or it is read-only. */
  isFull(nodeId: string): boolean;
  /** Whether the node takes no new copies because it is read-only (missed a purge while away). */
  isReadOnly?(nodeId: string): boolean;
  /** A node refused a copy for lack of room. */
  refused(nodeId: string): void;
}

/** A copy refused because a disk is full or below its reserve: another node may still take it. */
function isSpaceError(err: unknown): boolean {
  return isDmfsError(err, "E_DISK_FULL") || isDmfsError(err, "E_NO_SPACE");
}

export class Gateway {
  private readonly placement: Placement;

  constructor(private readonly o: GatewayOptions) {
    this.placement =
      o.placement ?? memberPlacement(() => liveness(o.mesh).map((m) => m.nodeId), o.replication);
  }

  /** Refuses to start a write that cannot reach its quorum, before any data is sent. */
  begin(): { alive: number; replication: number; writeQuorum: number; gcGraceMs: number } {
    const alive = aliveCount(this.o.mesh);
    this.requireQuorum(alive);
    this.requireRoom(alive);
    const { replication, writeQuorum, gcGraceMs } = this.o;
    return { alive, replication, writeQuorum, gcGraceMs };
  }

  /** Renews an upload's chunks on this node and every alive peer (each touches the copies it holds). */
  async touch(chunkIds: string[]): Promise<void> {
    const peers = this.alivePeers();
    await Promise.all([
      ...chunkIds.map((id) => this.o.store.touch(id)),
      ...peers.map((p) =>
        this.connectionTo(p.nodeId)
          .request({ t: "chunk.touch", chunkIds })
          .catch((err: Error) => this.o.log.debug({ err: err.message }, "a peer did not renew chunks")),
      ),
    ]);
  }

  /**
   * Verifies a chunk against its id, writes it to its R homes and resolves once W have it on disk.
   * `data` is a decoded frame field: its buffer is the message's own and is moved to the pool whole.
   */
  async writeChunk(chunkId: string, data: Uint8Array): Promise<void> {
    const { id, bytes } = await this.o.pool.hash(data, { ownsBuffer: true });
    if (id !== chunkId) {
      throw new DmfsError("E_CHUNK_CORRUPT", `chunk ${chunkId} arrived corrupt: its bytes hash to ${id}`);
    }
    const alive = new Set(
      liveness(this.o.mesh)
        .filter((m) => m.alive)
        .map((m) => m.nodeId),
    );
    // During a layout change this is the homes under both layouts (more than R), so the chunk is where
    // nodes following either layout look for it.
    this.requireQuorum(this.placement.writeTargets(chunkId, (nodeId) => alive.has(nodeId)).length);
    // Full nodes count as absent here, so the next-ranked nodes with room take their copies.
    const full = this.o.fullNodes;
    const hasRoom = (nodeId: string) => alive.has(nodeId) && !full?.isFull(nodeId);
    const targets = this.placement.writeTargets(chunkId, hasRoom);
    this.requireRoom(alive.size, targets.length);
    const spares = this.placement.readOrder(chunkId).filter((n) => hasRoom(n) && !targets.includes(n));
    await this.quorum(
      targets.map((nodeId) => () => this.putOnOrNext(nodeId, chunkId, bytes, spares)),
      `chunk ${chunkId.slice(0, 12)}`,
      () => this.blocked().filter((b) => b.readOnly),
    );
  }

  /** The alive members that take no new copies, each with whether it is read-only (else its disk is full). */
  private blocked(): { nodeId: string; readOnly: boolean }[] {
    const full = this.o.fullNodes;
    return liveness(this.o.mesh)
      .filter((m) => m.alive && full?.isFull(m.nodeId))
      .map((m) => ({ nodeId: m.nodeId, readOnly: full?.isReadOnly?.(m.nodeId) ?? false }));
  }

  /**
   * Puts the copy on `nodeId`; if that node turns out to be full (its heartbeat had not said so yet),
   * on the next spare node with room instead, until none is left.
   */
  private async putOnOrNext(nodeId: string, chunkId: string, bytes: Uint8Array, spares: string[]) {
    for (let target: string | undefined = nodeId; ; ) {
      try {
        return await this.putOn(target, chunkId, bytes);
      } catch (err) {
        if (!isSpaceError(err)) throw err;
        this.o.fullNodes?.refused(target);
        target = spares.shift();
        if (target === undefined) throw err;
      }
    }
  }

  /**
   * The verified bytes of a stored chunk and the node whose copy they are: from this node if it holds a
   * good copy, else from its homes. Nodes in `exclude` (whose copies the client found bad) are skipped.
   */
  async readChunk(
    chunkId: string,
    exclude: readonly string[] = [],
  ): Promise<{ bytes: Uint8Array; from: string }> {
    const { mesh } = this.o;
    const alive = liveness(mesh)
      .filter((m) => m.alive)
      .map((m) => m.nodeId);
    // Local first: it costs no network hop. Then the homes under the newest layout and the one before,
    // then every other alive member (a stand-in may hold the copy).
    const ranked = [...this.placement.readOrder(chunkId).filter((n) => alive.includes(n)), ...alive];
    const order = [...new Set([mesh.selfId, ...ranked])].filter((n) => !exclude.includes(n));
    const problems: string[] = [];
    const corrupt: string[] = [];
    for (const nodeId of order) {
      try {
        const bytes = await this.getFrom(nodeId, chunkId);
        this.o.activity.chunksServed++;
        this.replaceQuarantined(chunkId, bytes, corrupt);
        return { bytes, from: nodeId };
      } catch (err) {
        if (isDmfsError(err, "E_CHUNK_CORRUPT")) corrupt.push(nodeId);
        if (!isDmfsError(err, "E_NOT_FOUND"))
          problems.push(`${nodeId.slice(0, 8)}: ${this.sayable(err).message}`);
      }
    }
    const skipped = exclude.length > 0 ? ` besides ${exclude.map((n) => n.slice(0, 8)).join(", ")}` : "";
    const why = problems.length > 0 ? ` (${problems.join("; ")})` : "";
    throw new DmfsError(
      "E_NOT_FOUND",
      `no alive node${skipped} holds a good copy of chunk ${chunkId}${why}`,
      {
        subject: chunkId,
      },
    );
  }

  /** Stamps the entry with this node's clock, stores it and replicates it; resolves once W nodes have it. */
  async commit(req: FileCommit): Promise<CatalogEntry> {
    this.requireQuorum(aliveCount(this.o.mesh));
    const peers = this.alivePeers();
    this.refuseIfClockAhead(peers.map((p) => p.nodeId));
    const entry: CatalogEntry = {
      pathId: req.pathId,
      hlc: this.o.clock.tick(),
      writer: this.o.mesh.selfId,
      deleted: req.deleted,
      fileKey: req.fileKey,
      manifestId: req.manifestId,
      size: req.size,
      meta: req.meta,
    };
    const local = this.o.catalogWrites.apply([entry]);
    await this.quorum(
      [
        async () => {
          await local;
        },
        ...peers.map((p) => async () => {
          const conn = this.connectionTo(p.nodeId);
          await conn.request({ t: "catalog.push", entries: [entry] });
        }),
      ],
      `catalog entry ${req.pathId.slice(0, 12)}`,
    );
    // The client may read through this gateway next: its own catalog has the entry before the answer
    // (had the local write failed, W others hold it and the quorum has logged the failure).
    await local.catch(() => undefined);
    if (req.deleted) this.o.activity.deletes++;
    else this.o.activity.uploads++;
    return entry;
  }

  /** Which nodes hold each chunk now (this node and every alive peer are asked). */
  async locate(chunkIds: string[]): Promise<string[][]> {
    const alive = liveness(this.o.mesh).filter((m) => m.alive);
    const answers = await Promise.all(
      alive.map(async (m) => {
        if (m.nodeId === this.o.mesh.selfId) {
          return { nodeId: m.nodeId, have: await Promise.all(chunkIds.map((id) => this.o.store.has(id))) };
        }
        const reply = await this.connectionTo(m.nodeId)
          .request({ t: "chunk.has", chunkIds })
          .catch(() => undefined);
        return { nodeId: m.nodeId, have: reply?.t === "chunk.have" ? reply.have : [] };
      }),
    );
    return chunkIds.map((_, i) => answers.filter((a) => a.have[i]).map((a) => a.nodeId));
  }

  /** Each alive peer's own catalog entry for a file (file-lookup.ts); a peer that fails answers nothing. */
  async askPeers(query: FileQuery): Promise<(CatalogEntry | undefined)[]> {
    return Promise.all(
      this.alivePeers().map(async (p) => {
        const reply = await this.connectionTo(p.nodeId)
          .request({ t: "file.lookup", ...query })
          .catch((err: Error) => {
            this.o.log.debug(
              { peer: p.nodeId.slice(0, 8), err: err.message },
              "a peer did not answer a lookup",
            );
            return undefined;
          });
        return reply?.t === "file.entry" ? (reply.entry ?? undefined) : undefined;
      }),
    );
  }

  /** The alive members other than this node. */
  private alivePeers() {
    return liveness(this.o.mesh).filter((m) => m.alive && m.nodeId !== this.o.mesh.selfId);
  }

  /** A stamp from a clock far ahead of its peers' would be refused by them and, kept here, beat later writes. */
  private refuseIfClockAhead(peers: string[]): void {
    const ahead = this.o.peerClocks?.aheadOfMost(peers) ?? 0;
    if (ahead <= MAX_CLOCK_AHEAD_MS) return;
    throw new DmfsError(
      "E_CLOCK_AHEAD",
      `this node's clock runs ${Math.round(ahead / 1000)} s ahead of most of its peers' clocks, so it does not stamp writes until its clock is set right; use another node`,
    );
  }

  /**
   * Fewer than W nodes take new copies, though enough are alive: the disks are full (E_DISK_FULL), or
   * some of those nodes are read-only (E_TOO_FEW_WRITABLE), not the nodes down. `withRoom` defaults to
   * the alive nodes that take copies.
   */
  private requireRoom(alive: number, withRoom?: number): void {
    const { writeQuorum } = this.o;
    // Every chunk write passes here: the members are looked at only when a count falls short.
    if (alive < writeQuorum || (withRoom !== undefined && withRoom >= writeQuorum)) return;
    const blocked = this.blocked();
    const taking = withRoom ?? alive - blocked.length;
    if (taking >= writeQuorum) return;
    if (blocked.some((b) => b.readOnly)) {
      throw new DmfsError(
        "E_TOO_FEW_WRITABLE",
        `only ${taking} of the ${writeQuorum} nodes needed ${taking === 1 ? "takes" : "take"} new copies: ${whyNoCopies(blocked)}`,
      );
    }
    throw new DmfsError(
      "E_DISK_FULL",
      `disk full on the nodes: ${taking} of the ${alive} alive nodes ${taking === 1 ? "has" : "have"} room above ${taking === 1 ? "its" : "their"} free-space reserve and the write quorum W is ${writeQuorum}`,
    );
  }

  /** `err` as it may be told to the client: without this node's local paths. */
  private sayable(err: unknown): DmfsError {
    return replyErrorFor(err, { nodeId: this.o.mesh.selfId, localPaths: this.o.localPaths ?? [] });
  }

  private requireQuorum(alive: number): void {
    const { writeQuorum } = this.o;
    if (alive < writeQuorum) {
      throw new DmfsError(
        "E_QUORUM",
        `write quorum not met: ${alive} node${alive === 1 ? " is" : "s are"} alive and the write quorum W is ${writeQuorum}`,
      );
    }
  }

  /**
   * Runs every write at once and resolves as soon as W succeeded; the rest complete in the background.
   * Rejects with E_QUORUM once too many failed for W to be reached; with E_DISK_FULL if only full disks
   * refused, or E_TOO_FEW_WRITABLE if they did while `readOnly` nodes were left out.
   */
  private quorum(
    writes: (() => Promise<void>)[],
    what: string,
    readOnly: () => readonly { nodeId: string; readOnly: boolean }[] = () => [],
  ): Promise<void> {
    const needed = Math.min(this.o.writeQuorum, writes.length);
    return new Promise<void>((resolve, reject) => {
      let ok = 0;
      let failed = 0;
      let spaceFailures = 0;
      const problems: string[] = [];
      for (const write of writes) {
        write().then(
          () => {
            ok++;
            if (ok === needed) resolve();
          },
          (err: unknown) => {
            failed++;
            if (isSpaceError(err)) spaceFailures++;
            problems.push(this.sayable(err).message);
            if (writes.length - failed < needed) {
              reject(
                quorumFailure({
                  ok,
                  needed,
                  what,
                  problems,
                  onlySpace: spaceFailures === failed,
                  readOnly: readOnly(),
                }),
              );
            } else if (ok >= needed) {
              this.o.log.warn({ what, err: problems.at(-1) }, "a copy beyond the write quorum failed");
            }
          },
        );
      }
    });
  }

  /** Puts a good copy back, in the background, on each node that just quarantined a corrupt one. */
  private replaceQuarantined(chunkId: string, bytes: Uint8Array, nodeIds: string[]): void {
    for (const nodeId of nodeIds) {
      this.putOn(nodeId, chunkId, bytes).then(
        () => this.o.log.info({ chunkId, node: nodeId.slice(0, 8) }, "replaced a quarantined chunk copy"),
        (err: Error) =>
          this.o.log.warn(
            { chunkId, node: nodeId.slice(0, 8), err: err.message },
            "could not replace a quarantined chunk copy",
          ),
      );
    }
  }

  private async putOn(nodeId: string, chunkId: string, bytes: Uint8Array): Promise<void> {
    if (nodeId === this.o.mesh.selfId) {
      const result = await this.o.store.put(chunkId, bytes, { verified: true });
      if (result !== "existed") this.o.activity.chunksStored++;
      if (result === "replaced")
        this.o.log.warn({ chunkId }, "quarantined a rotten chunk copy and rewrote it");
      return;
    }
    await this.connectionTo(nodeId).request({ t: "chunk.put", chunkId, data: bytes });
  }

  private async getFrom(nodeId: string, chunkId: string): Promise<Uint8Array> {
    if (nodeId === this.o.mesh.selfId) {
      const { id, bytes } = await this.o.pool.hash(await this.o.store.getUnverified(chunkId));
      if (id !== chunkId) {
        await this.o.store.quarantine(chunkId);
        this.o.log.warn({ chunkId }, "quarantined a corrupt chunk copy");
        throw new DmfsError("E_CHUNK_CORRUPT", "the local copy is corrupt and was quarantined");
      }
      return bytes;
    }
    const reply = await this.connectionTo(nodeId).request({ t: "chunk.get", chunkId });
    if (reply.t !== "chunk.data")
      throw new DmfsError("E_MESSAGE_INVALID", `unexpected ${reply.t} to chunk.get`);
    const { id, bytes } = await this.o.pool.hash(reply.data, { ownsBuffer: true });
    if (id !== chunkId) throw new DmfsError("E_CHUNK_CORRUPT", "the copy sent was corrupt");
    return bytes;
  }

  private connectionTo(nodeId: string) {
    const conn = this.o.mesh.connection(nodeId);
    if (!conn) throw new DmfsError("E_CONNECTION_CLOSED", `no open link to ${nodeId.slice(0, 8)}`);
    return conn;
  }
}

/**
 * Why a write missed its quorum. Only full disks stood in the way: exit 8, "disk full on the nodes", not a
 * quorum error; unless read-only nodes were left out too, which freeing space alone does not mend.
 */
function quorumFailure(f: {
  ok: number;
  needed: number;
  what: string;
  problems: string[];
  onlySpace: boolean;
  readOnly: readonly { nodeId: string; readOnly: boolean }[];
}): DmfsError {
  const written = `${f.ok} of ${f.needed} copies`;
  const problems = f.problems.join("; ");
  if (f.onlySpace && f.readOnly.length > 0) {
    return new DmfsError(
      "E_TOO_FEW_WRITABLE",
      `only ${written} of ${f.what} written: the other nodes refused it for lack of room (${problems}), and ${whyNoCopies(f.readOnly)}`,
    );
  }
  if (f.onlySpace) {
    return new DmfsError(
      "E_DISK_FULL",
      `disk full on the nodes: ${written} of ${f.what} written, no other node has room for it (${problems})`,
    );
  }
  return new DmfsError("E_QUORUM", `write quorum not met for ${f.what}: ${written} written (${problems})`);
}

/**
 * Why these nodes take no new copies, in one clause: "node 1a2b3c4d is read-only (missed a tombstone
 * purge while away), node 5e6f7a8b's disk is full", and how a read-only node takes copies again.
 */
function whyNoCopies(blocked: readonly { nodeId: string; readOnly: boolean }[]): string {
  const reasons = blocked.map(({ nodeId, readOnly }) =>
    readOnly
      ? `node ${nodeId.slice(0, 8)} is read-only (missed a tombstone purge while away)`
      : `node ${nodeId.slice(0, 8)}'s disk is full`,
  );
  const rejoin = blocked.some((b) => b.readOnly)
    ? " - a read-only node takes copies again once rejoined with `dmfs node remove` and `dmfs cluster add-node`"
    : "";
  return `${reasons.join(", ")}${rejoin}`;
}
