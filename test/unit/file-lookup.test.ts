// A client's lookup on a node that misses (or holds only a tombstone) asks the peers, and the newest
// entry wins by the catalog's own order; a live entry here answers alone.
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

/** A node whose catalog holds `here` and whose peers answer `peers`; counts the questions to peers. */
function sources(here: CatalogEntry[], peers: (CatalogEntry | undefined)[]) {
  const asked: FileQuery[] = [];
  return {
    asked,
    local: (pathId: string) => here.find((e) => e.pathId === pathId),
    localByKey: (fileKey: string) =>
      here.filter((e) => e.fileKey === fileKey && !e.deleted).sort((a, b) => b.hlc.wall - a.hlc.wall)[0],
    askPeers: async (q: FileQuery) => {
      asked.push(q);
      return peers;
    },
  };
}

describe("file lookup", () => {
  it("answers from this node's live entry without asking the peers", async () => {
    const s = sources([entry(PATH_A, 5)], [entry(PATH_A, 9)]);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toEqual(entry(PATH_A, 5));
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_A, 5));
    expect(s.asked).toEqual([]);
  });

  it("finds on a peer an entry acknowledged through another node and not yet pushed here", async () => {
    const s = sources([], [undefined, entry(PATH_A, 5)]);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toEqual(entry(PATH_A, 5));
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_A, 5));
    expect(s.asked).toEqual([{ pathId: PATH_A }, { fileKey: KEY }]);
  });

  it("lets the newest entry win between a tombstone here and a peer's write", async () => {
    // Deleted here after the peer's write: still deleted.
    const deletedLater = sources([entry(PATH_A, 7, { deleted: true })], [entry(PATH_A, 5)]);
    expect(await lookUpFile({ pathId: PATH_A }, deletedLater)).toMatchObject({ deleted: true });
    expect(await lookUpFile({ fileKey: KEY }, deletedLater)).toBeUndefined();
    // Written again on a peer after the delete here: the new file.
    const writtenLater = sources(
      [entry(PATH_A, 7, { deleted: true })],
      [entry(PATH_A, 9, { fileKey: OTHER_KEY })],
    );
    expect(await lookUpFile({ pathId: PATH_A }, writtenLater)).toEqual(
      entry(PATH_A, 9, { fileKey: OTHER_KEY }),
    );
  });

  it("ignores a peer's answer for another path or another key", async () => {
    const s = sources([], [entry(PATH_B, 5), entry(PATH_B, 6, { fileKey: OTHER_KEY })]);
    expect(await lookUpFile({ pathId: PATH_A }, s)).toBeUndefined();
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_B, 5));
    expect(await lookUpFile({ fileKey: "f".repeat(64) }, s)).toBeUndefined();
  });

  it("by key, takes the newest live entry among the peers' paths", async () => {
    const s = sources([], [entry(PATH_A, 5), entry(PATH_B, 8), entry(PATH_A, 6, { deleted: true })]);
    expect(await lookUpFile({ fileKey: KEY }, s)).toEqual(entry(PATH_B, 8));
  });
});
