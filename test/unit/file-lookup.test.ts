// A client's lookup hears enough peers to meet every W nodes an acknowledged write reached (all of them
// on a miss here), and the newest entry wins by the catalog's own order: a file uploaded, deleted or
// replaced through another node is seen at once. Peers are fake catalogs.
import { describe, expect, it } from "vitest";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { type FileQuery, lookUpFile } from "../../src/node/file-lookup.ts";

const PATH_A = "a".repeat(64);
const PATH_B = "b".repeat(64);
const KEY = "c".repeat(64);
const OTHER_KEY = "d".repeat(64);

function entry(pathId: string, wall: number, o: { deleted?: boolean; fileKey?: string } = {}): CatalogEntry {
  const deleted = o.deleted ?? false;
  return {
    pathId,
    hlc: { wall, logical: 0 },
    writer: "1".repeat(32),
    deleted,
    fileKey: deleted ? null : (o.fileKey ?? KEY),
    manifestId: deleted ? null : "e".repeat(64),
    size: 1,
    meta: null,
  };
}

/** A catalog as a node answers from it: the entry for a path, the latest live entry with a key. */
function catalog(entries: CatalogEntry[]) {
  return {
    byPath: (pathId: string) => entries.find((e) => e.pathId === pathId),
    byKey: (fileKey: string) =>
      entries.filter((e) => e.fileKey === fileKey && !e.deleted).sort((a, b) => b.hlc.wall - a.hlc.wall)[0],
  };
}

/**
 * This node's catalog `here` and its peers' (answering in order, the first `enough` counted), with
 * `quorum` peers to hear on a hit; records how many answers each question waited for.
 */
function node(here: CatalogEntry[], peers: CatalogEntry[][], quorum: number) {
  const mine = catalog(here);
  const theirs = peers.map(catalog);
  const waitedFor: number[] = [];
  return {
    waitedFor,
    local: mine.byPath,
    localByKey: mine.byKey,
    quorum,
    askPeers: async (q: FileQuery, enough: number) => {
      waitedFor.push(enough);
      return theirs
        .slice(0, enough)
        .map((c) => (q.pathId !== undefined ? c.byPath(q.pathId) : c.byKey(q.fileKey)));
    },
  };
}

describe("file lookup", () => {
  it("on a single node (or W = every node) answers from its own live entry alone", async () => {
    const s = node([entry(PATH_A, 5)], [], 0);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toEqual(entry(PATH_A, 5));
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_A, 5));
    expect(s.waitedFor).toEqual([]);
  });

  it("finds on a peer a file acknowledged through another node and not yet pushed here, asking every peer", async () => {
    const s = node([], [[], [entry(PATH_A, 5)]], 1);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toEqual(entry(PATH_A, 5));
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_A, 5));
    expect(s.waitedFor[0]).toBe(Number.POSITIVE_INFINITY);
  });

  it("sees a delete acknowledged through another node though the file is still live here", async () => {
    const s = node([entry(PATH_A, 5)], [[entry(PATH_A, 7, { deleted: true })], []], 1);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toMatchObject({ deleted: true });
    expect(await lookUpFile({ fileKey: KEY }, s)).toBeUndefined();
    // A hit waits for the quorum of peers only.
    expect(s.waitedFor[0]).toBe(1);
  });

  it("sees a file replaced through another node, and a file written again after a delete here", async () => {
    const replaced = node([entry(PATH_A, 5)], [[entry(PATH_A, 9, { fileKey: OTHER_KEY })]], 1);
    expect(await lookUpFile({ pathId: PATH_A }, replaced)).toEqual(entry(PATH_A, 9, { fileKey: OTHER_KEY }));
    expect(await lookUpFile({ fileKey: KEY }, replaced)).toBeUndefined();
    const again = node(
      [entry(PATH_A, 7, { deleted: true })],
      [[entry(PATH_A, 9, { fileKey: OTHER_KEY })]],
      1,
    );
    expect(await lookUpFile({ pathId: PATH_A }, again)).toEqual(entry(PATH_A, 9, { fileKey: OTHER_KEY }));
  });

  it("keeps the newer entry here over an older one a peer has not replaced yet", async () => {
    const s = node([entry(PATH_A, 9, { fileKey: OTHER_KEY })], [[entry(PATH_A, 5)]], 1);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toEqual(entry(PATH_A, 9, { fileKey: OTHER_KEY }));
    expect(await lookUpFile({ fileKey: KEY }, s)).toBeUndefined();
  });

  it("by key, does not take a peer's live entry whose path another peer holds deleted", async () => {
    const s = node([], [[entry(PATH_A, 5)], [entry(PATH_A, 7, { deleted: true })]], 1);
    expect(await lookUpFile({ fileKey: KEY }, s)).toBeUndefined();
  });

  it("by key, takes the newest live entry among the peers' paths; finds nothing for a path no one holds", async () => {
    const s = node([], [[entry(PATH_A, 5)], [entry(PATH_B, 8)]], 1);
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_B, 8));
    const other = node([], [[entry(PATH_B, 5)]], 1);
    expect(await lookUpFile({ pathId: PATH_A }, other)).toBeUndefined();
  });
});
