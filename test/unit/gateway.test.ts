// The gateway's placement and quorum logic against a fake mesh (peers are fakes; the store, catalog and
// crypto pool are real).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Member } from "../../src/actors/node.ts";
import { HybridClock } from "../../src/cluster/hlc.ts";
import { rankNodes } from "../../src/cluster/placement.ts";
import { DmfsError } from "../../src/errors.ts";
import { Gateway } from "../../src/node/gateway.ts";
import { createLogger } from "../../src/node/logger.ts";
import type { MeshView } from "../../src/node/mesh-view.ts";
import type { Connection } from "../../src/protocol/connection.ts";
import type { Message } from "../../src/protocol/messages.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { CatalogGroupCommit } from "../../src/store/catalog-group-commit.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";
import { CryptoPool } from "../../src/workers/crypto-pool.ts";

const SELF = "0".repeat(32);
const PEERS = ["1".repeat(32), "2".repeat(32), "3".repeat(32)];

type Behaviour = "ok" | "fail" | "full" | "hang";

class FakePeer {
  received: Message[] = [];
  constructor(public behaviour: Behaviour) {}
  request(m: Message): Promise<Message> {
    this.received.push(m);
    if (this.behaviour === "ok") return Promise.resolve({ t: "ok", re: 1 });
    if (this.behaviour === "fail") return Promise.reject(new DmfsError("E_IO", "input/output error"));
    if (this.behaviour === "full")
      return Promise.reject(new DmfsError("E_DISK_FULL", "below its free-space reserve"));
    return new Promise(() => undefined);
  }
  get isClosed() {
    return false;
  }
}

let dir: string;
let pool: CryptoPool;
let db: NodeDatabase;
let store: ChunkStore;
let catalog: Catalog;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-gateway-"));
  pool = new CryptoPool({ threads: 1 });
  db = NodeDatabase.open(dir);
  catalog = new Catalog(db);
  store = await ChunkStore.open(dir, { hash: async (b) => bytesToHex(blake3(b)) });
});
afterAll(async () => {
  db.close();
  await pool.destroy();
  // Copies beyond the write quorum may still be landing in the store: let rm retry past them.
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
});

/** Nodes the test says are full (or read-only), and those that refused a copy for lack of room. */
function fullNodes(...full: string[]) {
  const refused: string[] = [];
  const readOnly: string[] = [];
  return {
    isFull: (id: string) => full.includes(id) || readOnly.includes(id),
    isReadOnly: (id: string) => readOnly.includes(id),
    readOnlyIds: readOnly,
    refused: (id: string) => void refused.push(id),
    refusedIds: refused,
  };
}

function gateway(
  peers: Record<string, FakePeer | undefined>,
  opts: {
    replication: number;
    writeQuorum: number;
    fullNodes?: ReturnType<typeof fullNodes>;
    store?: ChunkStore;
  } = {
    replication: 3,
    writeQuorum: 2,
  },
) {
  const mesh: MeshView = {
    selfId: SELF,
    members: () =>
      Object.keys(peers).map(
        (nodeId): Member => ({
          nodeId,
          addr: "127.0.0.1:1",
          state: peers[nodeId] ? "alive" : "down",
          rttMs: 1,
          lastSeen: 0,
        }),
      ),
    connection: (nodeId) => peers[nodeId] as unknown as Connection | undefined,
  };
  const activity = { uploads: 0, reads: 0, deletes: 0, chunksStored: 0, chunksServed: 0, chunkReads: 0 };
  const log = createLogger("silent");
  return new Gateway({
    mesh,
    gcGraceMs: 3_600_000,
    ...opts,
    store: opts.store ?? store,
    catalogWrites: new CatalogGroupCommit(catalog),
    pool,
    clock: new HybridClock(Date.now),
    activity,
    log,
  });
}

function chunk(seed: number): { id: string; data: Uint8Array } {
  const data = new Uint8Array(1000).fill(seed);
  return { id: bytesToHex(blake3(data)), data };
}

describe("gateway", () => {
  it("writes a chunk to its top R alive members and acknowledges after W, while the rest still hang", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("hang")]));
    const { id, data } = chunk(1);
    const top = rankNodes(id, [SELF, ...PEERS]).slice(0, 3);
    const fast = top.find((n) => n !== SELF) as string;
    (peers[fast] as FakePeer).behaviour = "ok";
    const g = gateway(peers);
    await g.writeChunk(id, data);
    // Exactly the homes were asked; the fourth ranked node was not.
    const asked = PEERS.filter((p) => (peers[p] as FakePeer).received.length > 0);
    expect(asked.sort()).toEqual(top.filter((n) => n !== SELF).sort());
  });

  it("fails with E_QUORUM when too many homes refuse, and says how many copies were written", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("fail")]));
    const { id, data } = chunk(2);
    const err = await gateway(peers)
      .writeChunk(id, data)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DmfsError);
    expect((err as DmfsError).code).toBe("E_QUORUM");
    expect((err as DmfsError).message).toMatch(/[01] of 2 copies written .*input\/output error/);
  });

  it("leaves a full home out and writes its copy to the next-ranked node with room", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("ok")]));
    const { id, data } = chunk(11);
    const ranked = rankNodes(id, [SELF, ...PEERS]);
    const fullHome = ranked.slice(0, 3).find((n) => n !== SELF) as string;
    await gateway(peers, { replication: 3, writeQuorum: 3, fullNodes: fullNodes(fullHome) }).writeChunk(
      id,
      data,
    );
    const asked = PEERS.filter((p) => (peers[p] as FakePeer).received.length > 0).sort();
    expect(asked).toEqual(ranked.filter((n) => n !== SELF && n !== fullHome).sort());
    expect((peers[fullHome] as FakePeer).received).toHaveLength(0);
  });

  it("moves a copy a home refuses for lack of room to the next-ranked node, and remembers the refusal", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("ok")]));
    const { id, data } = chunk(12);
    const ranked = rankNodes(id, [SELF, ...PEERS]);
    const refusing = ranked.slice(0, 3).find((n) => n !== SELF) as string;
    (peers[refusing] as FakePeer).behaviour = "full";
    const full = fullNodes();
    await gateway(peers, { replication: 3, writeQuorum: 3, fullNodes: full }).writeChunk(id, data);
    expect(full.refusedIds).toEqual([refusing]);
    expect((peers[ranked[3] as string] as FakePeer).received).toHaveLength(1);
  });

  it("fails with E_DISK_FULL, 'disk full on the nodes', when fewer than W alive nodes have room", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("ok")]));
    const g = gateway(peers, {
      replication: 3,
      writeQuorum: 2,
      fullNodes: fullNodes(SELF, PEERS[0] as string, PEERS[1] as string),
    });
    expect(() => g.begin()).toThrow(/^disk full on the nodes: 1 of the 4 alive nodes has room/);
    const { id, data } = chunk(13);
    await expect(g.writeChunk(id, data)).rejects.toMatchObject({ code: "E_DISK_FULL" });
    expect(PEERS.every((p) => (peers[p] as FakePeer).received.length === 0)).toBe(true);
  });

  it("says 'disk full on the nodes' when every copy was refused for lack of room", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("full")]));
    const { id, data } = chunk(14);
    const err = await gateway(peers, { replication: 3, writeQuorum: 2, fullNodes: fullNodes() })
      .writeChunk(id, data)
      .catch((e: unknown) => e);
    expect((err as DmfsError).code).toBe("E_DISK_FULL");
    expect((err as DmfsError).message).toMatch(/^disk full on the nodes: [01] of 2 copies of chunk/);
  });

  it("names a read-only node and a full one, with E_TOO_FEW_WRITABLE, when together they leave fewer than W nodes taking copies", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("ok")]));
    const [readOnly, full, other] = PEERS as [string, string, string];
    const nodes = fullNodes(SELF, full);
    nodes.readOnlyIds.push(readOnly);
    const g = gateway(peers, { replication: 3, writeQuorum: 2, fullNodes: nodes });
    const begun = (() => {
      try {
        g.begin();
      } catch (err) {
        return err;
      }
    })() as DmfsError;
    expect(begun.code).toBe("E_TOO_FEW_WRITABLE");
    expect(begun.message).toMatch(/^only 1 of the 2 nodes needed takes new copies: /);
    expect(begun.message).toContain(`node ${readOnly.slice(0, 8)} is read-only (missed a tombstone purge`);
    expect(begun.message).toContain(`node ${full.slice(0, 8)}'s disk is full`);
    expect(begun.message).toContain(`node ${SELF.slice(0, 8)}'s disk is full`);
    expect(begun.message).not.toContain(other.slice(0, 8));
    expect(begun.message).not.toContain("disk full on the nodes");
    const { id, data } = chunk(15);
    await expect(g.writeChunk(id, data)).rejects.toMatchObject({ code: "E_TOO_FEW_WRITABLE" });
    expect(PEERS.every((p) => (peers[p] as FakePeer).received.length === 0)).toBe(true);
  });

  it("names the read-only node when the nodes left after it refuse the copy for lack of room", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("full")]));
    const readOnly = PEERS[0] as string;
    (peers[readOnly] as FakePeer).behaviour = "ok";
    const nodes = fullNodes();
    nodes.readOnlyIds.push(readOnly);
    const { id, data } = chunk(16);
    const err = (await gateway(peers, { replication: 3, writeQuorum: 3, fullNodes: nodes })
      .writeChunk(id, data)
      .catch((e: unknown) => e)) as DmfsError;
    expect(err.code).toBe("E_TOO_FEW_WRITABLE");
    expect(err.message).toMatch(/^only [0-2] of 3 copies of chunk \w+ written: /);
    expect(err.message).toContain(`node ${readOnly.slice(0, 8)} is read-only`);
    expect(err.message).toContain("refused it for lack of room");
    expect((peers[readOnly] as FakePeer).received).toHaveLength(0);
  });

  it("refuses to begin when fewer than W nodes are alive, naming both numbers", () => {
    const g = gateway({ [PEERS[0] as string]: undefined, [PEERS[1] as string]: undefined });
    expect(() => g.begin()).toThrow(/1 node is alive and the write quorum W is 2/);
  });

  it("rejects a chunk whose bytes do not hash to its id before placing it anywhere", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("ok")]));
    const { data } = chunk(3);
    await expect(gateway(peers).writeChunk("f".repeat(64), data)).rejects.toMatchObject({
      code: "E_CHUNK_CORRUPT",
    });
    expect(PEERS.every((p) => (peers[p] as FakePeer).received.length === 0)).toBe(true);
  });

  it("stamps a commit with its clock and writer and stores it before acknowledging", async () => {
    const peers = Object.fromEntries(PEERS.map((p) => [p, new FakePeer("ok")]));
    const pathId = "a".repeat(64);
    const entry = await gateway(peers).commit({
      t: "file.commit",
      id: 1,
      pathId,
      deleted: false,
      fileKey: "b".repeat(64),
      manifestId: "c".repeat(64),
      size: 5,
      meta: null,
    });
    expect(entry.writer).toBe(SELF);
    expect(catalog.get(pathId)).toEqual(entry);
  });

  it("reads a chunk from a holder the client did not exclude and says which node served it", async () => {
    const { id, data } = chunk(7);
    const serving = {
      request: async (): Promise<Message> => ({ t: "chunk.data", re: 1, data: Buffer.from(data) }),
      isClosed: false,
    };
    const peers = Object.fromEntries(PEERS.map((p) => [p, serving as unknown as FakePeer]));
    const ranked = rankNodes(id, [SELF, ...PEERS]).filter((n) => n !== SELF);
    const first = await gateway(peers).readChunk(id);
    expect(first.from).toBe(ranked[0]);
    expect(Buffer.from(first.bytes).equals(Buffer.from(data))).toBe(true);
    const around = await gateway(peers).readChunk(id, [ranked[0] as string]);
    expect(around.from).toBe(ranked[1]);
    try {
      await gateway(peers).readChunk(id, PEERS);
      expect.unreachable("served a copy from an excluded node");
    } catch (err) {
      expect((err as DmfsError).code).toBe("E_NOT_FOUND");
      expect((err as DmfsError).message).toContain("besides");
    }
  });
});
