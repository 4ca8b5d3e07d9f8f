// Anti-entropy and the tombstone purge rule on real catalogs (SQLite in temp dirs) joined by a fake
// mesh: each "connection" answers digest, pull and ack the way a node's request handler does. One fake
// wall clock drives every node, so grace periods pass without waiting.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Member } from "../../src/actors/node.ts";
import { HybridClock, MAX_CLOCK_AHEAD_MS } from "../../src/cluster/hlc.ts";
import { TombstoneAcks } from "../../src/cluster/tombstone-acks.ts";
import type { CatalogEntry, Hlc } from "../../src/cluster/types.ts";
import { Absence } from "../../src/node/absence.ts";
import { AntiEntropy } from "../../src/node/anti-entropy.ts";
import { createLogger } from "../../src/node/logger.ts";
import type { Connection } from "../../src/protocol/connection.ts";
import type { Message } from "../../src/protocol/messages.ts";
import { AcksSent } from "../../src/store/acks-sent.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";

const GRACE_MS = 60_000;
const log = createLogger("silent");
const PATH = "ab".repeat(32);
const OTHER_PATH = "cd".repeat(32);
let now = 1_700_000_000_000;
const clockNow = () => now;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface FakeNode {
  id: string;
  root: string;
  db: NodeDatabase;
  /** Set by `restart`: the node judges its catalog as a returning node does. */
  absence: Absence | undefined;
  catalog: Catalog;
  acks: TombstoneAcks;
  antiEntropy: AntiEntropy;
  up: boolean;
  /** Whom this node's anti-entropy counts as the layout (default: every node of the test). */
  layout: string[] | undefined;
}

/** `count` nodes, fully meshed; a node with `up` false answers nothing and is seen as down. */
function cluster(count: number): FakeNode[] {
  const nodes: FakeNode[] = [];
  for (let i = 0; i < count; i++) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-anti-entropy-"));
    const db = NodeDatabase.open(root);
    cleanups.push(() => {
      db.close();
      fs.rmSync(root, { recursive: true, force: true });
    });
    const id = (i + 1).toString(16).padStart(2, "0").repeat(16);
    const catalog = new Catalog(db, clockNow);
    const acks = new TombstoneAcks();
    const node = { id, root, db, absence: undefined, catalog, acks, up: true, layout: undefined } as FakeNode;
    const acksSent = new AcksSent(db);
    // What anti-entropy asks: the node's Absence once restarted, else a node that was never away.
    const absence = {
      get standing() {
        return node.absence?.standing ?? ("current" as const);
      },
      heard: async (peer: string, purgedThrough: Hlc | undefined) =>
        node.absence ? node.absence.heard(peer, purgedThrough) : ("current" as const),
      acknowledged: (peer: string, through: Hlc) =>
        node.absence ? node.absence.acknowledged(peer, through) : acksSent.record(peer, through, now),
    };
    node.antiEntropy = new AntiEntropy({
      mesh: {
        selfId: id,
        members: () =>
          nodes
            .filter((n) => n !== node)
            .map(
              (n): Member => ({
                nodeId: n.id,
                addr: n.id,
                state: n.up ? "alive" : "down",
                rttMs: 1,
                lastSeen: now,
              }),
            ),
        connection: (peer) => {
          const target = nodes.find((n) => n.id === peer);
          if (!target?.up || !node.up) return undefined;
          return { request: async (m: Message) => serve(target, id, m) } as unknown as Connection;
        },
      },
      catalog,
      clock: new HybridClock(clockNow),
      log,
      layoutNodes: () => node.layout ?? nodes.map((n) => n.id),
      acks,
      tombstoneGraceMs: GRACE_MS,
      now: clockNow,
      absence,
    });
    nodes.push(node);
  }
  return nodes;
}

/** What a node's request handler answers to anti-entropy. */
function serve(node: FakeNode, from: string, m: Message): Message {
  switch (m.t) {
    case "catalog.digest": {
      node.absence?.refuseIfReadOnly();
      const through = node.catalog.lastArrival();
      const purgedThrough = node.catalog.purgedThrough();
      return {
        t: "catalog.digest.reply",
        re: 1,
        buckets: node.catalog.bucketDigests(),
        ...(through ? { through } : {}),
        ...(purgedThrough ? { purgedThrough } : {}),
      };
    }
    case "catalog.pull":
      node.absence?.refuseUntilCurrent();
      return { t: "catalog.entries", re: 1, ...node.catalog.entriesInBuckets(m.buckets, m.cursor) };
    case "catalog.ack":
      node.acks.heard(from, m.through);
      return { t: "ok", re: 1 };
    default:
      throw new Error(`unexpected ${m.t}`);
  }
}

/** The node starts again: what it acknowledged is read back from its database, its standing judged anew. */
async function restart(node: FakeNode): Promise<Absence> {
  node.absence = await Absence.open({
    root: node.root,
    nodeId: node.id,
    acks: new AcksSent(node.db),
    log,
    inLayout: () => true,
    now: clockNow,
  });
  node.up = true;
  return node.absence;
}

/** Every up node pulls from every other up node once, then purges what it may. */
async function round(nodes: FakeNode[]): Promise<void> {
  for (const node of nodes.filter((n) => n.up)) {
    for (const peer of nodes.filter((n) => n.up && n !== node)) await node.antiEntropy.syncWith(peer.id);
  }
  for (const node of nodes.filter((n) => n.up)) node.antiEntropy.purgeAcknowledged();
}

function entry(pathId: string, wall: number, deleted: boolean): CatalogEntry {
  return {
    pathId,
    hlc: { wall, logical: 0 },
    writer: "0f".repeat(16),
    deleted,
    fileKey: deleted ? null : "11".repeat(32),
    manifestId: deleted ? null : "22".repeat(32),
    size: deleted ? 0 : 10,
    meta: null,
  };
}

const tombstones = (nodes: FakeNode[]) => nodes.map((n) => n.catalog.counts().tombstones);
const live = (nodes: FakeNode[], pathId = PATH) => nodes.map((n) => n.catalog.get(pathId)?.deleted === false);

describe("TombstoneAcks", () => {
  it("moves each peer's acknowledgement forward only, and gives the oldest one all peers made", () => {
    const acks = new TombstoneAcks();
    acks.heard("a", { wall: 10, logical: 2 });
    acks.heard("a", { wall: 9, logical: 0 });
    acks.heard("b", { wall: 10, logical: 1 });
    expect(acks.commonThrough(["a"])).toEqual({ wall: 10, logical: 2 });
    expect(acks.commonThrough(["a", "b"])).toEqual({ wall: 10, logical: 1 });
    expect(acks.commonThrough(["a", "b", "c"])).toBeUndefined();
  });
});

describe("tombstone purge", () => {
  it("purges once the grace period passed and every node acknowledged, then stays purged", async () => {
    const nodes = cluster(3);
    nodes[0]?.catalog.apply(entry(PATH, now, true));
    await round(nodes);
    expect(tombstones(nodes)).toEqual([1, 1, 1]);
    now += GRACE_MS - 1;
    await round(nodes);
    expect(tombstones(nodes)).toEqual([1, 1, 1]);
    now += 2;
    await round(nodes);
    expect(tombstones(nodes)).toEqual([0, 0, 0]);
    nodes[1]?.catalog.apply(entry(OTHER_PATH, now, false)); // later writes keep the rounds busy
    for (let i = 0; i < 3; i++) {
      now += GRACE_MS;
      await round(nodes);
      expect(tombstones(nodes)).toEqual([0, 0, 0]);
    }
  });

  it("does not pull back a purged tombstone from a peer that has not purged it yet", async () => {
    const [a, b] = cluster(2) as [FakeNode, FakeNode];
    a.catalog.apply(entry(PATH, now, true));
    await round([a, b]);
    now += GRACE_MS + 1;
    await a.antiEntropy.syncWith(b.id);
    await b.antiEntropy.syncWith(a.id);
    expect(a.antiEntropy.purgeAcknowledged()).toBe(1);
    expect(tombstones([a, b])).toEqual([0, 1]);
    await a.antiEntropy.syncWith(b.id); // b's digests differ: a pulls the tombstone and drops it
    expect(tombstones([a, b])).toEqual([0, 1]);
    expect(b.antiEntropy.purgeAcknowledged()).toBe(1);
    await round([a, b]);
    expect(tombstones([a, b])).toEqual([0, 0]);
  });

  it("keeps the tombstone while a layout node is down past the grace; the node's old copy stays deleted", async () => {
    const [a, b, c] = cluster(3) as [FakeNode, FakeNode, FakeNode];
    const nodes = [a, b, c];
    for (const n of nodes) n.catalog.apply(entry(PATH, now, false));
    await round(nodes);
    c.up = false;
    now += 1_000;
    a.catalog.apply(entry(PATH, now, true));
    b.catalog.apply(entry(PATH, now, true));
    for (let i = 0; i < 3; i++) {
      now += GRACE_MS;
      await round(nodes);
      expect(tombstones([a, b])).toEqual([1, 1]);
    }
    c.up = true; // back with the file still live in its catalog
    expect(live([c])).toEqual([true]);
    for (let i = 0; i < 3; i++) {
      await round(nodes);
      expect(live(nodes)).toEqual([false, false, false]);
    }
    expect(tombstones(nodes)).toEqual([0, 0, 0]);
  });

  it("counts only the layout's nodes: a member outside the layout does not hold purges back", async () => {
    const [a, b, c] = cluster(3) as [FakeNode, FakeNode, FakeNode];
    a.layout = [a.id, b.id];
    c.up = false;
    a.catalog.apply(entry(PATH, now, true));
    await round([a, b, c]);
    now += GRACE_MS + 1;
    await round([a, b, c]);
    expect(a.catalog.counts().tombstones).toBe(0);
    expect(b.catalog.counts().tombstones).toBe(1); // b still counts c, which never acknowledged
  });

  it("purges by the grace period alone on a node alone in its layout", () => {
    const [a] = cluster(1) as [FakeNode];
    a.catalog.apply(entry(PATH, now, true));
    expect(a.antiEntropy.purgeAcknowledged()).toBe(0);
    now += GRACE_MS + 1;
    expect(a.antiEntropy.purgeAcknowledged()).toBe(1);
  });

  it("sends no acknowledgement after a pull that refused entries stamped too far ahead", async () => {
    const [a, b] = cluster(2) as [FakeNode, FakeNode];
    b.catalog.apply(entry(PATH, now, true));
    b.catalog.apply(entry(OTHER_PATH, now + GRACE_MS + 10 * MAX_CLOCK_AHEAD_MS, false));
    now += GRACE_MS + 1;
    await a.antiEntropy.syncWith(b.id);
    expect(b.antiEntropy.purgeAcknowledged()).toBe(0);
    expect(b.catalog.counts().tombstones).toBe(1);
  });
});

describe("a node back from an absence", () => {
  it("merges back when it stayed in the layout: its peers kept the tombstone, so the file stays deleted", async () => {
    const [a, b, c] = cluster(3) as [FakeNode, FakeNode, FakeNode];
    const nodes = [a, b, c];
    for (const n of nodes) n.catalog.apply(entry(PATH, now, false));
    await round(nodes);
    c.up = false;
    now += 1_000;
    a.catalog.apply(entry(PATH, now, true));
    for (let i = 0; i < 3; i++) {
      now += GRACE_MS;
      await round(nodes);
    }
    const absence = await restart(c);
    expect(absence.standing).toBe("deciding");
    await round(nodes);
    expect(absence.standing).toBe("current");
    expect(live(nodes)).toEqual([false, false, false]);
  });

  it("turns read-only when a peer purged a tombstone it never acknowledged, and merges or offers nothing", async () => {
    const [a, b, c] = cluster(3) as [FakeNode, FakeNode, FakeNode];
    const nodes = [a, b, c];
    for (const n of nodes) n.catalog.apply(entry(PATH, now, false));
    await round(nodes);
    // c is taken out of the layout while down, so a and b purge without it.
    c.up = false;
    a.layout = [a.id, b.id];
    b.layout = [a.id, b.id];
    now += 1_000;
    a.catalog.apply(entry(PATH, now, true));
    a.catalog.apply(entry(OTHER_PATH, now, false));
    now += GRACE_MS + 1;
    await round(nodes);
    await round(nodes);
    expect(tombstones([a, b])).toEqual([0, 0]);

    const absence = await restart(c);
    for (let i = 0; i < 3; i++) await round(nodes);
    expect(absence.standing).toBe("stale");
    expect(absence.sentence()).toMatch(/^read-only: .*purged tombstones .*dmfs node remove/);
    expect(live(nodes)).toEqual([false, false, true]); // c's copy stays frozen there, nowhere else
    expect(c.catalog.get(OTHER_PATH)).toBeUndefined(); // and c took nothing in
    expect(() => absence.refuseIfReadOnly()).toThrow(expect.objectContaining({ code: "E_NODE_READ_ONLY" }));
    expect(absence.collectionHeldBack()).toMatch(/read-only/);
    // The verdict is on disk: a restart stays read-only before hearing anyone.
    expect((await restart(c)).standing).toBe("stale");
  });

  it("offers no entries before it has heard a peer", async () => {
    const [a, c] = cluster(2) as [FakeNode, FakeNode];
    c.catalog.apply(entry(OTHER_PATH, now, false));
    await round([a, c]);
    c.up = false;
    c.catalog.apply(entry(PATH, now, false)); // written while no peer could see it
    const absence = await restart(c);
    expect(await a.antiEntropy.syncWith(c.id)).toBe(0);
    expect(a.catalog.get(PATH)).toBeUndefined();
    await c.antiEntropy.syncWith(a.id);
    expect(absence.standing).toBe("current");
    expect(await a.antiEntropy.syncWith(c.id)).toBe(1);
  });

  it("comes back current after a whole-cluster restart longer than the grace", async () => {
    const nodes = cluster(3);
    nodes[0]?.catalog.apply(entry(PATH, now, true));
    for (let i = 0; i < 2; i++) {
      now += GRACE_MS + 1;
      await round(nodes);
    }
    expect(tombstones(nodes)).toEqual([0, 0, 0]);
    nodes[1]?.catalog.apply(entry(OTHER_PATH, now, false));
    await round(nodes);
    for (const n of nodes) n.up = false;
    now += 100 * GRACE_MS;
    const standings = [];
    for (const n of nodes) standings.push(await restart(n));
    await round(nodes);
    expect(standings.map((s) => s.standing)).toEqual(["current", "current", "current"]);
    expect(live(nodes, OTHER_PATH)).toEqual([true, true, true]);
  });
});
