// Rejoining a read-only node (absence.ts): after `dmfs node remove` the admin re-adds it with
// `dmfs cluster add-node`, whose bundle carries a new node id. Started from that bundle on its old root,
// the node takes the new id and drops its node database - the catalog that may hold files deleted while
// it was away, the acknowledgements and members that went with it - and keeps its chunk files: repair
// hands them to their homes and garbage collection deletes those the live catalog does not reference,
// once the node has pulled that catalog. Any other root holding another id is still refused
// (node-identity.ts).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomically } from "../cluster/cluster-dir.ts";
import { DATABASE_FILE } from "../store/node-database.ts";
import { NODE_ID_FILE, parseNodeId } from "../store/node-identity.ts";
import { READ_ONLY_FILE } from "./absence.ts";
import type { Logger } from "./logger.ts";

/**
 * Gives a read-only root the id `issued` (from a re-added node's bundle) and an empty catalog; true
 * when it did. Each step can be repeated after a crash: the database goes first, then the id, and the
 * read-only mark, which names the old id, last.
 */
export async function rejoinIfReAdded(
  root: string,
  issued: string | undefined,
  log: Logger,
): Promise<boolean> {
  const mark = join(root, READ_ONLY_FILE);
  const idFile = join(root, NODE_ID_FILE);
  if (issued === undefined || !existsSync(mark) || !existsSync(idFile)) return false;
  const oldId = parseNodeId(readFileSync(idFile, "utf8"), idFile);
  if (oldId === issued) return false;
  for (const suffix of ["", "-wal", "-shm"]) rmSync(join(root, `${DATABASE_FILE}${suffix}`), { force: true });
  await writeFileAtomically(idFile, `${issued}\n`, 0o644);
  rmSync(mark, { force: true });
  log.warn(
    { was: oldId.slice(0, 8), now: issued.slice(0, 8) },
    "rejoining as a re-added node: the read-only catalog is dropped, the chunks are kept until checked against the cluster's catalog",
  );
  return true;
}
