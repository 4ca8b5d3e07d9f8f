// Repair against a fake mesh (peers are fakes; the store and crypto pool are real): it pushes a missing
// copy to a home with room, not to a full one, and counts an under-replicated chunk on exactly one
// holder - the highest-ranked one it heard of - so the nodes' counts add up to a cluster-wide figure.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Member } from "../../src/actors/node.ts";
import { FullPeers } from "../../src/cluster/full-peers.ts";
import { homes } from "../../src/cluster/placement.ts";
import { memberPlacement } from "../../src/node/layout-keeper.ts";
import { createLogger } from "../../src/node/logger.ts";
import type { MeshView } from "../../src/node/mesh-view.ts";
import { Repair } from "../../src/node/repair.ts";
import type { Connection } from "../../src/protocol/connection.ts";
import type { Message } from "../../src/protocol/messages.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { CryptoPool } from "../../src/workers/crypto-pool.ts";

const SELF = "0".repeat(32);
const PEERS = ["1".repeat(32), "2".repeat(32), "3".repeat(32)];
const EVERYONE = [SELF, ...PEERS];

/** A peer holding a set of chunks; it answers chunk.has and takes chunk.put. */
class FakePeer {
  readonly held = new Set<string>();
  puts = 0;
  request(m: Message): Promise<Message> {
    if (m.t === "chunk.has")
      return Promise.resolve({ t: "chunk.have", re: 1, have: m.chunkIds.map((id) => this.held.has(id)) });
    if (m.t === "chunk.put") {
      this.puts++;
      this.held.add(m.chunkId);
      return Promise.resolve({ t: "ok", re: 1 });
    }
    return Promise.reject(new Error(`unexpected ${m.t}`));
  }
  get isClosed() {
    return false;
  }
}

let dir: string;
let pool: CryptoPool;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-repair-"));
  pool = new CryptoPool({ threads: 1 });
});
afterAll(async () => {
  await pool.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** A chunk (bytes and id) whose homes, best first, satisfy `fits`. */
function chunkWhere(fits: (ranked: string[]) => boolean): { id: string; data: Uint8Array; ranked: string[] } {
  for (let seed = 0; seed < 10_000; seed++) {
    const data = new Uint8Array(512).fill(seed % 256);
    data[0] = seed >> 8;
    const id = bytesToHex(blake3(data));
    const ranked = homes(id, EVERYONE, 3);
    if (fits(ranked)) return { id, data, ranked };
  }
  throw new Error("no such chunk");
}

async function setUp(name: string, fullPeers: FullPeers) {
  const store = await ChunkStore.open(join(dir, name), { hash: async (b) => bytesToHex(blake3(b)) });
  const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer()]));
  const mesh: MeshView = {
    selfId: SELF,
    members: () =>
      PEERS.map((nodeId): Member => ({ nodeId, addr: "127.0.0.1:1", state: "alive", rttMs: 1, lastSeen: 0 })),
    connection: (nodeId) => peers[nodeId] as unknown as Connection,
  };
  const repair = new Repair({
    mesh,
    store,
    pool,
    placement: memberPlacement(() => EVERYONE, 3),
    log: createLogger("silent"),
    fullNodes: fullPeers,
  });
  const scan = async () => {
    repair.trigger();
    await repair.idle();
    return repair.underReplicated;
  };
  return { store, peers, scan };
}

describe("repair", () => {
  it("pushes no copy to a full home, counts the chunk, and pushes it once the home has room again", async () => {
    // This node is the best home, so it is the one that counts the chunk.
    const { id, data, ranked } = chunkWhere((r) => r[0] === SELF);
    let triggered = 0;
    const full = new FullPeers(() => triggered++);
    const { store, peers, scan } = await setUp("full-home", full);
    await store.put(id, data);
    const [fullHome, otherHome] = ranked.slice(1) as [string, string];
    (peers[otherHome] as FakePeer).held.add(id);
    full.heard(fullHome, true);

    expect(await scan()).toBe(1);
    expect((peers[fullHome] as FakePeer).puts).toBe(0);

    full.heard(fullHome, undefined); // its next heartbeat says nothing: room again
    expect(triggered).toBe(1);
    expect(await scan()).toBe(0);
    expect((peers[fullHome] as FakePeer).held.has(id)).toBe(true);
  });

  it("leaves the count to a higher-ranked holder, so each chunk is counted once across the cluster", async () => {
    // This node is the second home; the best home holds the chunk too; the third is full.
    const { id, data, ranked } = chunkWhere((r) => r[1] === SELF);
    const full = new FullPeers();
    const { store, peers, scan } = await setUp("ranked-below", full);
    await store.put(id, data);
    (peers[ranked[0] as string] as FakePeer).held.add(id);
    full.heard(ranked[2] as string, true);
    expect(await scan()).toBe(0);

    // Without the best home's copy, this node is the best holder: it counts the chunk.
    (peers[ranked[0] as string] as FakePeer).held.delete(id);
    full.heard(ranked[0] as string, true);
    expect(await scan()).toBe(1);
  });

  it("counts on a stand-in only when no home holds the chunk", async () => {
    const { id, data, ranked } = chunkWhere((r) => !r.includes(SELF));
    const full = new FullPeers();
    const { store, peers, scan } = await setUp("stand-in", full);
    await store.put(id, data);
    for (const home of ranked) full.heard(home, true);
    expect(await scan()).toBe(1);
    (peers[ranked[2] as string] as FakePeer).held.add(id);
    expect(await scan()).toBe(0);
  });
});
