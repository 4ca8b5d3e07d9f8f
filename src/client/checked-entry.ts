// A catalog entry reaches the client through nodes, any of which may lie. Before the client uses one it
// opens the sealed metadata (only a holder of the data key can write it) and checks that the entry's
// clear fields - path id, size, file key, manifest id - say the same, so a node can withhold a file but
// never pair a path with another file's contents.
import type { CatalogEntry } from "../cluster/types.ts";
import { type OpenedMeta, openMeta, pathIdOf } from "../crypto/catalog-crypto.ts";
import type { DataKeys } from "../crypto/keys.ts";
import { DmfsError, isDmfsError } from "../errors.ts";

/**
 * The entry's metadata once it matches the entry; E_CORRUPT or E_WRONG_KEY naming `servedBy` when not.
 * `pathIdFor` computes a path's id (a faster BLAKE3 backend for many entries; the same digest).
 */
export function checkEntry(
  keys: DataKeys,
  entry: CatalogEntry,
  servedBy: string,
  pathIdFor: (path: string) => string = (path) => pathIdOf(keys, path),
): OpenedMeta {
  const where = `the catalog entry ${entry.pathId.slice(0, 12)} served by node ${servedBy.slice(0, 8)} (written by ${entry.writer.slice(0, 8)})`;
  if (entry.deleted || !entry.meta) {
    throw new DmfsError("E_CORRUPT", `${where} has no metadata`, { subject: servedBy });
  }
  let meta: OpenedMeta;
  try {
    meta = openMeta(keys, entry.meta);
  } catch (err) {
    if (!isDmfsError(err)) throw err;
    throw new DmfsError(err.code, `${err.message}, in ${where}`, { subject: servedBy });
  }
  const mismatch = mismatchOf(pathIdFor, entry, meta);
  if (mismatch) {
    throw new DmfsError("E_CORRUPT", `${where} does not match its sealed metadata: ${mismatch}`, {
      subject: servedBy,
    });
  }
  return meta;
}

function mismatchOf(
  pathIdFor: (path: string) => string,
  entry: CatalogEntry,
  meta: OpenedMeta,
): string | undefined {
  if (pathIdFor(meta.path) !== entry.pathId) return "it is filed under another path";
  if (meta.size !== entry.size) return `it says ${entry.size} bytes, the metadata ${meta.size}`;
  // The first format bound neither; a read still recomputes the file key from the chunks.
  if (meta.v === 1) return undefined;
  if (meta.fileKey !== entry.fileKey) return "it names another file key";
  if (meta.manifestId !== entry.manifestId) return "it names another manifest";
  return undefined;
}
