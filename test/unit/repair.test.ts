import { describe, expect, it, vi } from "vitest";
import type { Member } from "../../src/actors/node.ts";
import type { Clock } from "../../src/node/byte-pacer.ts";
import type { Placement } from "../../src/node/layout-keeper.ts";
import { createLogger } from "../../src/node/logger.ts";
import type { MeshView } from "../../src/node/mesh-view.ts";
import { Repair } from "../../src/node/repair.ts";
import type { Connection } from "../../src/protocol/connection.ts";

const SELF = "0".repeat(32);
const [A, B, C] = ["a", "b", "c"].map((c) => c.repeat(32)) as [string, string, string];
const chunk = (n: number) => n.toString(16).padStart(64, "0");

/** A peer's store as a set of chunk ids, answering chunk.has and chunk.put like a node. */
function fakePeer(held: Set<string>, opts: { refusePuts?: boolean; rotten?: Set<string> } = {}) {
  return {
    held,
    conn: {
      request: async (m: { t: string; chunkIds?: string[]; chunkId?: string; verify?: boolean }) => {
        // With verify, a rotten copy is not a copy.
        const good = (id: string) => held.has(id) && !(m.verify && opts.rotten?.has(id));
        if (m.t === "chunk.has") return { t: "chunk.have", have: (m.chunkIds ?? []).map(good) };
        if (m.t === "chunk.put") {
          if (opts.refusePuts) throw new Error("disk full");
          held.add(m.chunkId as string);
          return { t: "ok" };
        }
        throw new Error(`unexpected ${m.t}`);
      },
    } as unknown as Connection,
  };
}

function setUp(
  local: string[],
  peers: Record<string, ReturnType<typeof fakePeer> | undefined>,
  homes: string[],
  opts: { bytesPerSecond?: number; clock?: Clock } = {},
) {
  const stored = new Set(local);
  const mesh: MeshView = {
    selfId: SELF,
    members: () => Object.keys(peers).map((nodeId) => ({ nodeId, state: "alive" }) as Member),
    connection: (nodeId) => peers[nodeId]?.conn,
  };
  const placement: Placement = { homes: () => homes, writeTargets: () => homes, readOrder: () => homes };
  let clean = 0;
  const repair = new Repair({
    mesh,
    placement,
    log: createLogger("silent"),
    store: {
      async *list() {
        yield* [...stored];
      },
      getUnverified: async (id: string) => new Uint8Array(Buffer.from(id)),
      info: async (id: string) => (stored.has(id) ? { size: Buffer.byteLength(id), mtimeMs: 0 } : undefined),
      quarantine: async () => {},
      delete: async (id: string) => stored.delete(id),
    } as never,
    pool: {
      hash: async (bytes: Uint8Array) => ({ id: Buffer.from(bytes).toString(), bytes }),
    } as never,
    onClean: () => clean++,
    ...opts,
  });
  const scan = async () => {
    repair.trigger();
    await repair.idle();
  };
  return { repair, stored, scan, cleans: () => clean };
}

describe("repair", () => {
  it("pushes a chunk to every home that lacks it and keeps the copy when this node is a home", async () => {
    const a = fakePeer(new Set());
    const b = fakePeer(new Set([chunk(1)]));
    const { repair, stored, scan, cleans } = setUp([chunk(1), chunk(2)], { [A]: a, [B]: b }, [SELF, A, B]);
    await scan();
    expect([...a.held].sort()).toEqual([chunk(1), chunk(2)]);
    expect([...b.held].sort()).toEqual([chunk(1), chunk(2)]);
    expect([...stored].sort()).toEqual([chunk(1), chunk(2)]);
    expect(repair.underReplicated).toBe(0);
    // Copies moved, so a second scan ran at once; it moved nothing and ended the run.
    expect(cleans()).toBe(2);
  });

  it("drops a copy that is not on a home only once every home holds the chunk", async () => {
    const a = fakePeer(new Set([chunk(1)]));
    const b = fakePeer(new Set());
    const c = fakePeer(new Set(), { refusePuts: true });
    const { repair, stored, scan, cleans } = setUp([chunk(1)], { [A]: a, [B]: b, [C]: c }, [A, B, C]);
    await scan();
    // C refused the copy: this node keeps its own and is not clean. The chunk is under-replicated, but
    // home A holds it and ranks above this non-home, so A counts it (each chunk counted once cluster-wide).
    expect(stored.has(chunk(1))).toBe(true);
    expect(repair.underReplicated).toBe(0);
    expect(repair.misplaced).toBe(1);
    expect(cleans()).toBe(0);
    c.held.add(chunk(1));
    await scan();
    expect(stored.has(chunk(1))).toBe(false);
    expect(repair.dropped).toBe(1);
    expect(repair.underReplicated).toBe(0);
    expect(repair.misplaced).toBe(0);
  });

  it("keeps the copy while a home's copy does not verify", async () => {
    const rotten = new Set([chunk(1)]);
    const a = fakePeer(new Set([chunk(1)]));
    const b = fakePeer(new Set([chunk(1)]));
    const c = fakePeer(new Set([chunk(1)]), { rotten });
    const { stored, scan } = setUp([chunk(1)], { [A]: a, [B]: b, [C]: c }, [A, B, C]);
    await scan();
    expect(stored.has(chunk(1))).toBe(true);
    rotten.clear();
    await scan();
    expect(stored.has(chunk(1))).toBe(false);
  });

  it("keeps the copy when a home is down (not connected)", async () => {
    const a = fakePeer(new Set([chunk(1)]));
    const b = fakePeer(new Set([chunk(1)]));
    const { stored, scan, repair, cleans } = setUp([chunk(1)], { [A]: a, [B]: b, [C]: undefined }, [A, B, C]);
    await scan();
    expect(stored.has(chunk(1))).toBe(true);
    expect(cleans()).toBe(0);
    // Home A holds it too and ranks above this non-home: A counts it, not this node.
    expect(repair.underReplicated).toBe(0);
  });

  it("reports what it owes the homes before it moves anything, then what it moved", async () => {
    // A home that takes every copy only when the test lets it, so the test can look mid-pass.
    const a = fakePeer(new Set());
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const putsSeen: string[] = [];
    const slow = {
      request: async (m: { t: string; chunkId?: string }) => {
        if (m.t === "chunk.put") {
          putsSeen.push(m.chunkId as string);
          await gate;
        }
        return a.conn.request(m as never);
      },
    } as unknown as Connection;
    let now = 1_000_000;
    const ids = [chunk(1), chunk(2), chunk(3)];
    const { repair } = setUp(ids, { [A]: { held: a.held, conn: slow } }, [SELF, A], {
      bytesPerSecond: 100,
      // Paced waits pass at once on this clock; the test moves time itself.
      clock: { now: () => now, sleep: async () => {} },
    });
    expect(repair.progress()).toMatchObject({ misplaced: null, bytesToMove: null, bytesMoved: 0 });
    repair.trigger();
    // Each id is 64 bytes long in the fake store: 3 copies owed, 192 bytes, at the paced 100 B/s (the
    // first push goes at once; the pacer would hold the others, but the gate holds the first).
    await vi.waitFor(() => expect(putsSeen).toHaveLength(1));
    expect(repair.progress()).toMatchObject({
      misplaced: 0,
      bytesToMove: 192,
      bytesMoved: 0,
      bytesPerSecond: 100,
      etaSeconds: 2,
    });
    release();
    await repair.idle();
    now += 4_000;
    expect(repair.progress()).toMatchObject({ bytesToMove: 0, bytesMoved: 192, etaSeconds: 0 });
    expect([...a.held].sort()).toEqual(ids);
  });

  it("counts misplaced copies and the bytes homes still lack when a push fails", async () => {
    const a = fakePeer(new Set(), { refusePuts: true });
    const { repair, scan } = setUp([chunk(1)], { [A]: a }, [A]);
    await scan();
    expect(repair.progress()).toMatchObject({
      misplaced: 1,
      bytesToMove: 64,
      bytesMoved: 0,
      copiesDropped: 0,
    });
    // Nothing is moving, so no ETA is promised.
    expect(repair.progress().etaSeconds).toBeNull();
  });
});
