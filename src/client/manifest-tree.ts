// Walking a manifest tree (src/client/manifest.ts) from its root: to the chunks covering a byte range
// (reads), or to every id in it (garbage collection, stat). Only the path being walked is in memory -
// one index object per level - and a range costs one index object per level, not the whole tree.
import { DmfsError } from "../errors.ts";
import { type ByteRange, entriesCovering } from "./byte-range.ts";
import { decodeIndexObject, type IndexEntry, type IndexNode, plaintextOf } from "./manifest.ts";

/** A chunk of the file, and the file offset of its first plaintext byte. */
export interface ChunkRef {
  id: string;
  storedLength: number;
  plaintextLength: number;
  offset: number;
}

/** The index object an entry names, verified against its id and checked with `checkChild`. */
export type FetchChild = (entry: IndexEntry, level: number) => Promise<IndexNode>;

/** The chunks (in file order) that hold the bytes of `range`. */
export async function* chunksCovering(
  root: IndexNode,
  range: ByteRange,
  fetchChild: FetchChild,
): AsyncGenerator<ChunkRef> {
  async function* walk(node: IndexNode, base: number): AsyncGenerator<ChunkRef> {
    for (const { entry, offset } of entriesCovering(node.entries, base, range)) {
      const [id, storedLength, plaintextLength] = entry;
      if (node.level === 0) yield { id, storedLength, plaintextLength, offset };
      else yield* walk(await fetchChild(entry, node.level - 1), offset);
    }
  }
  yield* walk(root, 0);
}

/** Every id under the root - index objects before the entries they list, and chunks - each once per use. */
export async function* idsUnder(root: IndexNode, fetchChild: FetchChild): AsyncGenerator<string> {
  for (const entry of root.entries) {
    yield entry[0];
    if (root.level > 0) yield* idsUnder(await fetchChild(entry, root.level - 1), fetchChild);
  }
}

/**
 * Checks that an index object is the one its parent's entry describes: one level down, not a root, as
 * many bytes as the entry says, covering as many plaintext bytes. The hash already binds its bytes to
 * the id; this keeps a badly written tree from being read as something else. E_CHUNK_CORRUPT otherwise.
 */
export function checkChild(node: IndexNode, entry: IndexEntry, level: number, byteLength: number): void {
  const [id, storedLength, plaintextLength] = entry;
  const problem =
    node.file !== undefined
      ? "it is a root"
      : node.level !== level
        ? `it is of level ${node.level}, its parent's entry of level ${level}`
        : byteLength !== storedLength
          ? `it is ${byteLength} bytes long, its parent's entry says ${storedLength}`
          : plaintextOf(node.entries) !== plaintextLength
            ? `it covers ${plaintextOf(node.entries)} bytes, its parent's entry ${plaintextLength}`
            : undefined;
  if (problem)
    throw new DmfsError(
      "E_CHUNK_CORRUPT",
      `index object ${id.slice(0, 16)} does not fit its tree: ${problem}`,
    );
}

/** A FetchChild over a source of verified bytes (a node's read path): decode, then check. */
export function childReader(verifiedBytes: (id: string) => Promise<Uint8Array>): FetchChild {
  return async (entry, level) => {
    const bytes = await verifiedBytes(entry[0]);
    const node = decodeIndexObject(bytes, entry[0]);
    checkChild(node, entry, level, bytes.length);
    return node;
  };
}
