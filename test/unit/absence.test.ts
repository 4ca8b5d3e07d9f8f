// A node back from an absence, on real files: the acknowledgements it sent survive in node.db (and a
// schema-2 database from before them opens with none), the read-only mark survives a restart and a
// damaged mark never makes the node writable, and a re-added node's root gets its new id and an empty
// catalog while its chunk files stay.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { Absence, READ_ONLY_FILE } from "../../src/node/absence.ts";
import { createLogger } from "../../src/node/logger.ts";
import { rejoinIfReAdded } from "../../src/node/rejoin.ts";
import { AcksSent } from "../../src/store/acks-sent.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { NodeDatabase, SCHEMA_VERSION } from "../../src/store/node-database.ts";
import { loadOrCreateNodeId, NODE_ID_FILE } from "../../src/store/node-identity.ts";
import { formatTimeSpan } from "../../src/time-span.ts";

const FIXTURE_V2 = fileURLToPath(new URL("../fixtures/node-db-v2/node.db", import.meta.url));
const log = createLogger("silent");
const OLD_ID = "0a".repeat(16);
const NEW_ID = "0b".repeat(16);
const PEER = "0c".repeat(16);
const now = 1_764_100_000_000;

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});
function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-absence-"));
  roots.push(root);
  return root;
}

async function openAbsence(root: string, db: NodeDatabase, nodeId = OLD_ID): Promise<Absence> {
  return Absence.open({ root, nodeId, acks: new AcksSent(db), log, inLayout: () => false, now: () => now });
}

describe("acknowledgements sent", () => {
  it("are kept across a restart, and a schema-2 database from before them opens with none", () => {
    const root = tempRoot();
    fs.copyFileSync(FIXTURE_V2, path.join(root, "node.db"));
    const db = NodeDatabase.open(root);
    try {
      expect(db.sqlite.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
      const catalog = new Catalog(db);
      expect(catalog.counts()).toEqual({ files: 1, tombstones: 0 });
      expect(catalog.purgedThrough()).toEqual({ wall: 1_764_000_000_000, logical: 1 });
      const acks = new AcksSent(db);
      expect(acks.all().size).toBe(0);
      expect(acks.lastContact()).toBeUndefined();
      acks.record(PEER, { wall: 10, logical: 1 }, now);
      acks.record(PEER, { wall: 9, logical: 0 }, now + 1); // never backwards
      expect(new AcksSent(db).all().get(PEER)).toEqual({ through: { wall: 10, logical: 1 }, sentAt: now });
    } finally {
      db.close();
    }
  });
});

describe("the read-only mark", () => {
  it("keeps a node read-only across restarts, and a mark about another node id does not count", async () => {
    const root = tempRoot();
    const db = NodeDatabase.open(root);
    try {
      new AcksSent(db).record(PEER, { wall: 10, logical: 0 }, now - 3 * 86_400_000 - 4 * 3_600_000);
      const absence = await openAbsence(root, db);
      expect(absence.standing).toBe("deciding");
      expect(() => absence.refuseUntilCurrent()).toThrow(
        expect.objectContaining({ code: "E_NODE_READ_ONLY" }),
      );
      expect(await absence.heard(PEER, { wall: 11, logical: 0 })).toBe("stale");
      expect(absence.sentence()).toBe(
        "read-only: this node was out of contact with the cluster for 3 d 4 h, and meanwhile node 0c0c0c0c purged tombstones it never received, so its catalog may still hold files deleted meanwhile; it is out of the layout already: add it again with `dmfs cluster add-node` and start it from the new bundle on this root to rejoin",
      );
      expect((await openAbsence(root, db)).readOnly).toBe(true);
      expect((await openAbsence(root, db, NEW_ID)).readOnly).toBe(false);
    } finally {
      db.close();
    }
  });

  it("that is damaged stops the node with E_IO, never starts it writable (any bytes)", async () => {
    const root = tempRoot();
    const db = NodeDatabase.open(root);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
          fs.writeFileSync(path.join(root, READ_ONLY_FILE), bytes);
          const opened = await openAbsence(root, db).then(
            (a) => a.readOnly || a.standing,
            (err: { code?: string }) => err.code,
          );
          // Random bytes that happen to be a record about this node are read-only; anything else refuses.
          expect([true, "E_IO"]).toContain(opened);
        }),
        { numRuns: 200 },
      );
    } finally {
      db.close();
    }
  });

  it("says durations an operator reads at a glance", () => {
    expect([9, 243, 3 * 3600 + 120, 76 * 3600].map(formatTimeSpan)).toEqual([
      "9 s",
      "4 min 3 s",
      "3 h 2 min",
      "3 d 4 h",
    ]);
  });
});

describe("rejoining a re-added node", () => {
  it("gives a read-only root the new id and an empty catalog and keeps its chunk files", async () => {
    const root = tempRoot();
    loadOrCreateNodeId(root);
    const oldId = fs.readFileSync(path.join(root, NODE_ID_FILE), "utf8").trim();
    const db = NodeDatabase.open(root);
    new Catalog(db).applyMany([
      {
        pathId: "ab".repeat(32),
        hlc: { wall: 5, logical: 0 },
        writer: PEER,
        deleted: false,
        fileKey: "11".repeat(32),
        manifestId: "22".repeat(32),
        size: 3,
        meta: null,
      },
    ]);
    new AcksSent(db).record(PEER, { wall: 5, logical: 0 }, now);
    const absence = await openAbsence(root, db, oldId);
    await absence.heard(PEER, { wall: 6, logical: 0 });
    db.close();
    fs.mkdirSync(path.join(root, "chunks", "cd"), { recursive: true });
    fs.writeFileSync(path.join(root, "chunks", "cd", "cd".repeat(32)), "chunk");

    // Not re-added (no issued id, or the same one): nothing changes.
    expect(await rejoinIfReAdded(root, undefined, log)).toBe(false);
    expect(await rejoinIfReAdded(root, oldId, log)).toBe(false);
    expect(await rejoinIfReAdded(root, NEW_ID, log)).toBe(true);
    expect(loadOrCreateNodeId(root, NEW_ID)).toBe(NEW_ID);
    expect(fs.existsSync(path.join(root, READ_ONLY_FILE))).toBe(false);
    expect(fs.readFileSync(path.join(root, "chunks", "cd", "cd".repeat(32)), "utf8")).toBe("chunk");
    const reopened = NodeDatabase.open(root);
    try {
      expect(new Catalog(reopened).counts()).toEqual({ files: 0, tombstones: 0 });
      const rejoined = await Absence.open({
        root,
        nodeId: NEW_ID,
        acks: new AcksSent(reopened),
        log,
        inLayout: () => true,
        rejoined: true,
      });
      expect(rejoined.standing).toBe("current");
      expect(rejoined.collectionHeldBack()).toMatch(/rejoined/);
      rejoined.acknowledged(PEER, { wall: 1, logical: 0 });
      expect(rejoined.collectionHeldBack()).toBeUndefined();
    } finally {
      reopened.close();
    }
  });

  it("leaves a root that is not read-only alone: another id is still refused", async () => {
    const root = tempRoot();
    loadOrCreateNodeId(root);
    expect(await rejoinIfReAdded(root, NEW_ID, log)).toBe(false);
    expect(() => loadOrCreateNodeId(root, NEW_ID)).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
  });
});
