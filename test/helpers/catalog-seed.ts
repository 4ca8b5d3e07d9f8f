// Catalog entries made the way an upload makes them (path id and sealed metadata under the cluster's data
// key) but without any file data: what listing tests and the listing bench need by the hundred thousand,
// where 200,000 real uploads would take far too long. Written straight into a node's database before the
// node starts, as the gc bench writes chunk files straight into a store's layout.
import { randomBytes } from "node:crypto";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { loadBulkBlake3 } from "../../src/crypto/blake3.ts";
import { pathIdOf, sealMeta } from "../../src/crypto/catalog-crypto.ts";
import type { DataKeys } from "../../src/crypto/keys.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";

const SEED_WRITER = "5eed".repeat(8);

/**
 * A live entry for `path` whose metadata opens with `keys`; its file key and manifest id name nothing
 * stored. `pathIdFor` may compute the path id with a faster BLAKE3 backend (the same digest).
 */
export function sealedEntry(
  keys: DataKeys,
  path: string,
  wall: number,
  size = 1000,
  pathIdFor: (path: string) => string = (p) => pathIdOf(keys, p),
): CatalogEntry {
  const ids = randomBytes(64).toString("hex");
  const fileKey = ids.slice(0, 64);
  const manifestId = ids.slice(64);
  return {
    pathId: pathIdFor(path),
    hlc: { wall, logical: 0 },
    writer: SEED_WRITER,
    deleted: false,
    fileKey,
    manifestId,
    size,
    meta: sealMeta(keys, { path, size, mtime: wall, fileKey, manifestId }),
  };
}

/**
 * Writes an entry for every path into the catalog of the node root `root` (created if needed), in
 * transactions of 10,000; the node must not be running.
 */
export async function seedCatalog(
  root: string,
  keys: DataKeys,
  paths: Iterable<string>,
  wall = Date.now(),
): Promise<number> {
  const blake3 = await loadBulkBlake3();
  const pathIdFor = (p: string) => bytesToHex(blake3.keyedHash(keys.path, utf8ToBytes(p)));
  const db = NodeDatabase.open(root);
  try {
    const catalog = new Catalog(db);
    let batch: CatalogEntry[] = [];
    let count = 0;
    for (const path of paths) {
      batch.push(sealedEntry(keys, path, wall, 1000, pathIdFor));
      if (batch.length === 10_000) {
        // In path id order the inserts land in neighbouring B-tree pages: a third faster than at random.
        count += catalog.applyMany(batch.sort(byPathId));
        batch = [];
      }
    }
    return count + catalog.applyMany(batch.sort(byPathId));
  } finally {
    db.close();
  }
}

const byPathId = (a: CatalogEntry, b: CatalogEntry) => (a.pathId < b.pathId ? -1 : 1);

/** `count` paths spread over folders of `perFolder` files: `dir-00000/file-00000.bin` ... */
export function* folderPaths(count: number, perFolder: number): Generator<string> {
  for (let i = 0; i < count; i++) {
    const folder = String(Math.floor(i / perFolder)).padStart(5, "0");
    yield `dir-${folder}/file-${String(i % perFolder).padStart(5, "0")}.bin`;
  }
}
