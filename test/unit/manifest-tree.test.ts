// Manifest trees built as an upload streams and walked as a read does, against an in-memory object
// store: every chunk comes back in order, a tree never holds more than the fan-out per object, a range
// fetches one index object per level, and the GC walk sees every id.
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeIndexObject, type IndexNode } from "../../src/client/manifest.ts";
import { ManifestBuilder } from "../../src/client/manifest-builder.ts";
import { childReader, chunksCovering, idsUnder } from "../../src/client/manifest-tree.ts";
import { CHUNK_OVERHEAD_BYTES } from "../../src/crypto/chunk-format.ts";

/** Builds the tree of `lengths` (plaintext bytes per chunk) with `fanOut`; returns the store and root. */
async function build(lengths: number[], fanOut: number) {
  const objects = new Map<string, Uint8Array>();
  const builder = new ManifestBuilder(64, fanOut, async (bytes) => {
    const id = bytesToHex(blake3(bytes));
    objects.set(id, bytes);
    return id;
  });
  const chunkIds = lengths.map((_, i) => i.toString(16).padStart(64, "0"));
  for (const [i, plain] of lengths.entries()) {
    await builder.add(chunkIds[i] as string, plain + CHUNK_OVERHEAD_BYTES, plain);
  }
  const { manifestId, size } = await builder.finish();
  const root = decodeIndexObject(objects.get(manifestId) as Uint8Array, manifestId);
  const fetches: string[] = [];
  const fetchChild = childReader(async (id) => {
    fetches.push(id);
    return objects.get(id) as Uint8Array;
  });
  return { objects, manifestId, size, root, chunkIds, fetchChild, fetches };
}

function depthOf(chunks: number, fanOut: number): number {
  let levels = 1;
  for (let span = fanOut; span < chunks; span *= fanOut) levels++;
  return levels;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const tree = fc.record({
  fanOut: fc.integer({ min: 2, max: 6 }),
  lengths: fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 300 }),
});

describe("manifest tree", () => {
  it("walks back every chunk in order with its offset, in a tree of the smallest depth", async () => {
    await fc.assert(
      fc.asyncProperty(tree, async ({ fanOut, lengths }) => {
        const t = await build(lengths, fanOut);
        const size = lengths.reduce((a, b) => a + b, 0);
        expect(t.size).toBe(size);
        expect(t.root.file).toEqual({ chunkSize: 64, size });
        expect(t.root.level + 1).toBe(depthOf(lengths.length, fanOut));
        const refs = await collect(chunksCovering(t.root, { start: 0, end: size }, t.fetchChild));
        let offset = 0;
        expect(refs).toEqual(
          lengths.map((plain, i) => {
            const ref = {
              id: t.chunkIds[i],
              storedLength: plain + CHUNK_OVERHEAD_BYTES,
              plaintextLength: plain,
              offset,
            };
            offset += plain;
            return ref;
          }),
        );
        for (const [id, bytes] of t.objects) {
          const node: IndexNode = decodeIndexObject(bytes, id);
          expect(node.entries.length).toBeLessThanOrEqual(fanOut);
        }
        // The GC walk: every index object and chunk, each once here (no chunk is shared).
        const ids = await collect(idsUnder(t.root, t.fetchChild));
        expect(new Set(ids)).toEqual(
          new Set([...t.objects.keys()].filter((id) => id !== t.manifestId).concat(t.chunkIds)),
        );
        expect(ids).toHaveLength(t.objects.size - 1 + lengths.length);
      }),
      { numRuns: 150 },
    );
  });

  it("finds the chunks of any range with one index object fetched per level below the root", async () => {
    await fc.assert(
      fc.asyncProperty(
        tree.filter(({ lengths }) => lengths.length > 0),
        fc.nat(),
        fc.nat({ max: 400 }),
        async ({ fanOut, lengths }, at, span) => {
          const t = await build(lengths, fanOut);
          const start = at % t.size;
          const end = Math.min(t.size, start + span);
          const refs = await collect(chunksCovering(t.root, { start, end }, t.fetchChild));
          // Exactly the chunks with a byte in [start, end).
          let offset = 0;
          const expected: number[] = [];
          for (const [i, plain] of lengths.entries()) {
            if (start < end && offset < end && offset + plain > start) expected.push(i);
            offset += plain;
          }
          expect(refs.map((r) => r.id)).toEqual(expected.map((i) => t.chunkIds[i]));
          if (end - start === 1) expect(t.fetches).toHaveLength(t.root.level);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("builds three levels from 17 chunks at fan-out 4 and a one-byte read fetches two index objects", async () => {
    const t = await build(Array(17).fill(10), 4);
    expect(t.root.level).toBe(2);
    const refs = await collect(chunksCovering(t.root, { start: 95, end: 96 }, t.fetchChild));
    expect(refs.map((r) => r.offset)).toEqual([90]);
    expect(t.fetches).toHaveLength(2);
  });

  it("refuses a child that does not fit the entry naming it", async () => {
    const t = await build(Array(9).fill(10), 2);
    const [firstId] = t.root.entries[0] ?? [];
    const wrong = childReader(async (id) => t.objects.get(id === firstId ? t.manifestId : id) as Uint8Array);
    await expect(collect(chunksCovering(t.root, { start: 0, end: 90 }, wrong))).rejects.toMatchObject({
      code: "E_CHUNK_CORRUPT",
      message: expect.stringMatching(/does not fit its tree: it is a root/),
    });
  });

  it("composes trees of one level from their root entries (a builder at a higher base level)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (fanOut, parts) => {
          const built = await Promise.all(parts.map((lengths) => build(lengths, fanOut)));
          const level = Math.max(...built.map((t) => t.root.level));
          const same = built.filter((t) => t.root.level === level);
          const objects = new Map<string, Uint8Array>(same.flatMap((t) => [...t.objects]));
          const composer = new ManifestBuilder(
            64,
            fanOut,
            async (bytes) => {
              const id = bytesToHex(blake3(bytes));
              objects.set(id, bytes);
              return id;
            },
            level,
          );
          for (const t of same) for (const entry of t.root.entries) await composer.addEntry(entry);
          const { manifestId, size } = await composer.finish();
          const root = decodeIndexObject(objects.get(manifestId) as Uint8Array, manifestId);
          const fetchChild = childReader(async (id) => objects.get(id) as Uint8Array);
          const refs = await collect(chunksCovering(root, { start: 0, end: size }, fetchChild));
          const lengths = same.flatMap((t) => parts[built.indexOf(t)] as number[]);
          expect(refs.map((r) => r.plaintextLength)).toEqual(lengths);
          expect(size).toBe(lengths.reduce((a, b) => a + b, 0));
          expect(root.level).toBeGreaterThanOrEqual(level);
        },
      ),
    );
  });

  it("refuses a fan-out outside 2..4096", () => {
    for (const fanOut of [0, 1, 1.5, 4097]) {
      expect(() => new ManifestBuilder(64, fanOut, async () => "x")).toThrow(/fan-out must be/);
    }
  });
});
