// Finding a file's catalog entry for a client, by path id or by file key. An upload or a delete is
// acknowledged once its entry is on W nodes; the others receive it a moment later. A client that reads
// right after the acknowledgement through one of those others must see it: the file there, or gone.
// So a lookup hears enough peers that they and this node meet every W nodes an acknowledged write
// reached (the members less W: one of three with W=2), and every peer on a miss here; the newest entry
// wins by the catalog's own order. Peers answer from their catalogs alone (a node's lookup is never
// passed on), so a lookup costs one round trip to the nearest peers.
import { compareEntries, merge } from "../cluster/lww.ts";
import type { CatalogEntry } from "../cluster/types.ts";

export type FileQuery = { pathId: string; fileKey?: undefined } | { fileKey: string; pathId?: undefined };

export interface LookupSources {
  /** This node's entry for a path, live or deleted. */
  local(pathId: string): CatalogEntry | undefined;
  /** This node's latest live entry with a file key. */
  localByKey(fileKey: string): CatalogEntry | undefined;
  /**
   * What alive peers answer from their own catalogs, once `enough` have (or all have answered or
   * failed; a peer that fails answers nothing).
   */
  askPeers(query: FileQuery, enough: number): Promise<(CatalogEntry | undefined)[]>;
  /** Peers to hear besides this node so that they meet every W nodes of an acknowledged write. */
  quorum: number;
}

/** The newest entry this node and its peers know for the query. */
export async function lookUpFile(
  query: FileQuery,
  sources: LookupSources,
): Promise<CatalogEntry | undefined> {
  if (query.pathId !== undefined) return byPath(query.pathId, sources);
  // By key: an entry with the key counts only if it is still the newest entry for its path (peers that
  // hold a delete of that path hold no live entry with the key, so each candidate's path is asked).
  const { fileKey } = query;
  const isFile = (e: CatalogEntry | undefined) => e !== undefined && !e.deleted && e.fileKey === fileKey;
  const here = sources.localByKey(fileKey);
  if (here) {
    const now = await byPath(here.pathId, sources);
    if (isFile(now)) return now;
  }
  const told = await sources.askPeers(query, Number.POSITIVE_INFINITY);
  const candidates = told
    .filter((e): e is CatalogEntry => isFile(e) && e?.pathId !== here?.pathId)
    .sort((a, b) => compareEntries(b, a));
  for (const pathId of new Set(candidates.map((e) => e.pathId))) {
    const now = await byPath(pathId, sources);
    if (isFile(now)) return now;
  }
  return undefined;
}

/** The newest entry for a path: this node's, merged with a quorum of peers' (every peer on a miss here). */
async function byPath(pathId: string, sources: LookupSources): Promise<CatalogEntry | undefined> {
  const here = sources.local(pathId);
  const hit = here !== undefined && !here.deleted;
  if (hit && sources.quorum <= 0) return here;
  const answers = await sources.askPeers({ pathId }, hit ? sources.quorum : Number.POSITIVE_INFINITY);
  return answers.filter((e) => e?.pathId === pathId).reduce(mergeInto, here);
}

function mergeInto(newest: CatalogEntry | undefined, e: CatalogEntry | undefined): CatalogEntry | undefined {
  return e === undefined ? newest : merge(newest, e);
}
