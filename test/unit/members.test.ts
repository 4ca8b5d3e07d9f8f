import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemberTable } from "../../src/store/members.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";

const NODE_A = "0a".repeat(16);
const NODE_B = "0b".repeat(16);

const roots: string[] = [];
const databases: NodeDatabase[] = [];

function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-members-"));
  roots.push(root);
  return root;
}

function openMembers(root: string): MemberTable {
  const db = NodeDatabase.open(root);
  databases.push(db);
  return new MemberTable(db);
}

afterEach(() => {
  for (const db of databases.splice(0)) db.close();
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

describe("MemberTable", () => {
  it("remembers members across a restart, so a node can rejoin without its bootstrap list", () => {
    const root = tempRoot();
    const first = openMembers(root);
    first.upsert({ nodeId: NODE_B, addr: "127.0.0.1:7002", lastSeen: 2_000 });
    first.upsert({ nodeId: NODE_A, addr: "127.0.0.1:7001", lastSeen: 1_000 });
    databases.pop()?.close();
    expect(openMembers(root).all()).toEqual([
      { nodeId: NODE_A, addr: "127.0.0.1:7001", lastSeen: 1_000 },
      { nodeId: NODE_B, addr: "127.0.0.1:7002", lastSeen: 2_000 },
    ]);
  });

  it("takes a newer sighting's address and ignores an older one", () => {
    const members = openMembers(tempRoot());
    members.upsert({ nodeId: NODE_A, addr: "127.0.0.1:7001", lastSeen: 1_000 });
    members.upsert({ nodeId: NODE_A, addr: "127.0.0.2:7001", lastSeen: 3_000 });
    members.upsert({ nodeId: NODE_A, addr: "127.0.0.1:7001", lastSeen: 2_000 });
    expect(members.all()).toEqual([{ nodeId: NODE_A, addr: "127.0.0.2:7001", lastSeen: 3_000 }]);
  });

  it("forgets a removed member and says whether it knew it", () => {
    const members = openMembers(tempRoot());
    members.upsert({ nodeId: NODE_A, addr: "127.0.0.1:7001", lastSeen: 1_000 });
    expect(members.remove(NODE_A)).toBe(true);
    expect(members.remove(NODE_A)).toBe(false);
    expect(members.all()).toEqual([]);
  });

  it("refuses an id that is not a node id", () => {
    const members = openMembers(tempRoot());
    expect(() => members.upsert({ nodeId: "NOT-HEX", addr: "127.0.0.1:1", lastSeen: 1 })).toThrow(
      expect.objectContaining({ code: "E_MESSAGE_INVALID", subject: "NOT-HEX" }),
    );
    expect(members.all()).toEqual([]);
  });
});
