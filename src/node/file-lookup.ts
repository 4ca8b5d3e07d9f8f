// Finding a file's catalog entry for a client, by path id or by file key. An upload is acknowledged once
// its entry is on W nodes; the others receive it a moment later. A client that reads right after the
// acknowledgement through one of those others must still find the file, so a node that holds no live
// entry asks its alive peers too, and the newest entry wins by the catalog's own order. Peers answer
// from their catalogs alone (a node's lookup is never passed on), so one miss costs one round trip.
import { compareEntries, merge } from "../cluster/lww.ts";
import type { CatalogEntry } from "../cluster/types.ts";

export type FileQuery = { pathId: string; fileKey?: undefined } | { fileKey: string; pathId?: undefined };

export interface LookupSources {
  /** This node's entry for a path, live or deleted. */
  local(pathId: string): CatalogEntry | undefined;
  /** This node's latest live entry with a file key. */
  localByKey(fileKey: string): CatalogEntry | undefined;
  /** What the alive peers answer from their own catalogs (a peer that fails answers nothing). */
  askPeers(query: FileQuery): Promise<(CatalogEntry | undefined)[]>;
}

/** This node's own entry for the query: what it answers a peer. */
export function localEntry(query: FileQuery, sources: LookupSources): CatalogEntry | undefined {
  return query.pathId !== undefined ? sources.local(query.pathId) : sources.localByKey(query.fileKey);
}

/** The newest entry this node and, on a miss here, its alive peers know for the query. */
export async function lookUpFile(
  query: FileQuery,
  sources: LookupSources,
): Promise<CatalogEntry | undefined> {
  const here = localEntry(query, sources);
  if (here && !here.deleted) return here;
  const answers = await sources.askPeers(query);
  if (query.pathId !== undefined) {
    return answers.filter((e) => e?.pathId === query.pathId).reduce(mergeInto, here);
  }
  // A peer's live entry for the key loses to a newer entry for its path here (a delete or a new file
  // there that this peer has not heard of yet).
  const live = answers
    .filter((e): e is CatalogEntry => e?.fileKey === query.fileKey && !e.deleted)
    .map((e) => merge(sources.local(e.pathId), e))
    .filter((e) => e.fileKey === query.fileKey && !e.deleted);
  return live.reduce<CatalogEntry | undefined>(
    (newest, e) => (newest === undefined || compareEntries(e, newest) > 0 ? e : newest),
    undefined,
  );
}

function mergeInto(newest: CatalogEntry | undefined, e: CatalogEntry | undefined): CatalogEntry | undefined {
  return e === undefined ? newest : merge(newest, e);
}
