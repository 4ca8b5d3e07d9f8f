import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { CatalogGroupCommit } from "../../src/store/catalog-group-commit.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";

const WRITER = "0a".repeat(16);
const hex = (n: number) => n.toString(16).padStart(64, "0");

function entry(n: number, wall: number): CatalogEntry {
  return {
    pathId: hex(n),
    hlc: { wall, logical: 0 },
    writer: WRITER,
    deleted: false,
    fileKey: hex(n + 1000),
    manifestId: hex(n + 2000),
    size: n,
    meta: new Uint8Array([n & 0xff]),
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function openCatalog(): { catalog: Catalog; db: NodeDatabase; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-group-commit-"));
  const db = NodeDatabase.open(root);
  cleanups.push(() => {
    db.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { catalog: new Catalog(db), db, root };
}

describe("catalog group commit", () => {
  it("commits the writes of one event-loop turn in one transaction and answers each caller for its own", async () => {
    const { catalog } = openCatalog();
    const group = new CatalogGroupCommit(catalog);
    catalog.apply(entry(1, 500)); // a newer entry already there: the write below loses to it
    const transactions = vi.spyOn(catalog, "applyEach");
    const results = await Promise.all([
      group.apply([entry(1, 100)]),
      group.apply([entry(2, 100), entry(3, 100)]),
      group.apply([entry(4, 100)]),
    ]);
    expect(results).toEqual([0, 2, 1]);
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(catalog.get(hex(1))?.hlc.wall).toBe(500);
    expect(catalog.list().map((e) => e.pathId)).toEqual([1, 2, 3, 4].map(hex));
    // A later turn is a new transaction.
    expect(await group.apply([entry(5, 100)])).toBe(1);
    expect(transactions).toHaveBeenCalledTimes(2);
  });

  it("resolves only once the entries are durable: a second handle on the database sees them", async () => {
    const { catalog, root } = openCatalog();
    const group = new CatalogGroupCommit(catalog);
    await group.apply([entry(7, 100)]);
    const other = NodeDatabase.open(root);
    try {
      expect(new Catalog(other).get(hex(7))?.size).toBe(7);
    } finally {
      other.close();
    }
  });

  it("rejects every write of a group whose transaction fails, and stores none of them", async () => {
    const { catalog, db } = openCatalog();
    const group = new CatalogGroupCommit(catalog);
    const good = group.apply([entry(1, 100)]);
    const bad = group.apply([{ ...entry(2, 100), pathId: "not a path id" }]);
    await expect(good).rejects.toThrow();
    await expect(bad).rejects.toThrow();
    expect(catalog.list()).toEqual([]);
    // The next group goes through.
    expect(await group.apply([entry(3, 100)])).toBe(1);
    expect(db.sqlite.open).toBe(true);
  });
});
