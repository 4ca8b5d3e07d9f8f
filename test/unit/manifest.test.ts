// The manifest's index objects: both versions decode to one shape, every consistent object round-trips,
// and anything else - random bytes, truncations, other msgpack, well-formed objects made inconsistent -
// is one E_CHUNK_CORRUPT naming the object.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeIndexObject,
  encodeIndexObject,
  encodeManifestV1,
  type IndexEntry,
  type IndexNode,
  MAX_INDEX_ENTRIES,
  type ManifestV1,
} from "../../src/client/manifest.ts";
import { CHUNK_OVERHEAD_BYTES } from "../../src/crypto/chunk-format.ts";
import { DmfsError } from "../../src/errors.ts";
import { encode } from "../../src/protocol/codec.ts";

const hex64 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });

/** A consistent first-format manifest: every chunk full but the last. */
const manifestV1: fc.Arbitrary<ManifestV1> = fc
  .record({ chunkSize: fc.integer({ min: 1024, max: 1 << 20 }), chunks: fc.integer({ min: 0, max: 40 }) })
  .chain(({ chunkSize, chunks }) =>
    fc
      .integer({ min: Math.max(0, (chunks - 1) * chunkSize + 1), max: chunks * chunkSize })
      .map((size) => ({ chunkSize, size })),
  )
  .chain(({ chunkSize, size }) => {
    const n = Math.ceil(size / chunkSize);
    return fc.array(hex64, { minLength: n, maxLength: n }).map((ids) => ({
      v: 1 as const,
      chunkSize,
      size,
      chunks: ids.map((id, i): [string, number] => [
        id,
        (i === n - 1 ? size - chunkSize * (n - 1) : chunkSize) + CHUNK_OVERHEAD_BYTES,
      ]),
    }));
  });

const leafEntry: fc.Arbitrary<IndexEntry> = fc
  .tuple(hex64, fc.integer({ min: 1, max: 16 << 20 }))
  .map(([id, plain]) => [id, plain + CHUNK_OVERHEAD_BYTES, plain] as const);
const innerEntry: fc.Arbitrary<IndexEntry> = fc
  .tuple(hex64, fc.integer({ min: 1, max: 400_000 }), fc.integer({ min: 1, max: 2 ** 40 }))
  .map(([id, stored, plain]) => [id, stored, plain] as const);

/** A consistent version-2 index object: a leaf or an inner one, a root or not. */
const indexNode: fc.Arbitrary<IndexNode> = fc
  .record({ level: fc.integer({ min: 0, max: 8 }), root: fc.boolean() })
  .chain(({ level, root }) =>
    fc
      .array(level === 0 ? leafEntry : innerEntry, { minLength: root && level === 0 ? 0 : 1, maxLength: 30 })
      .chain((entries) =>
        fc.integer({ min: 1, max: 16 << 20 }).map((chunkSize): IndexNode => {
          const size = entries.reduce((sum, e) => sum + e[2], 0);
          return { level, entries, ...(root ? { file: { chunkSize, size } } : {}) };
        }),
      ),
  );

function expectCorrupt(bytes: Uint8Array): void {
  try {
    decodeIndexObject(bytes, "fuzz");
  } catch (err) {
    expect(err).toBeInstanceOf(DmfsError);
    expect((err as DmfsError).code).toBe("E_CHUNK_CORRUPT");
    expect((err as DmfsError).message).toMatch(/^index object fuzz is (not valid msgpack|invalid: .+)$/);
  }
}

describe("manifest index objects", () => {
  it("round-trips every consistent version-2 object", () => {
    fc.assert(
      fc.property(indexNode, (node) => {
        expect(decodeIndexObject(encodeIndexObject(node), "x")).toEqual(node);
      }),
      { numRuns: 300 },
    );
  });

  it("reads every consistent first-format manifest as a root leaf", () => {
    fc.assert(
      fc.property(manifestV1, (m) => {
        expect(decodeIndexObject(encodeManifestV1(m), "x")).toEqual({
          level: 0,
          entries: m.chunks.map(([id, stored]) => [id, stored, stored - CHUNK_OVERHEAD_BYTES]),
          file: { chunkSize: m.chunkSize, size: m.size },
        });
      }),
      { numRuns: 200 },
    );
  });

  it("refuses objects whose lengths do not agree, by what is wrong", () => {
    const id = "a".repeat(64);
    const cases: [unknown, RegExp][] = [
      [
        {
          v: 1,
          chunkSize: 10,
          size: 15,
          chunks: [
            [id, 38],
            [id, 38],
          ],
        },
        /do not add up to the size/,
      ],
      [{ v: 2, level: 0, entries: [[id, 100, 100]] }, /stored length is not its plaintext length plus/],
      [
        { v: 2, level: 1, entries: [[id, 100, 7]], file: { chunkSize: 4, size: 8 } },
        /do not add up to the size/,
      ],
      [{ v: 2, level: 1, entries: [] }, /is empty/],
      [{ v: 2, level: 0, entries: [], file: { chunkSize: 4, size: 0 }, extra: 1 }, /invalid/],
      [{ v: 2, level: 9, entries: [[id, 1, 1]] }, /invalid/],
      [{ v: 3, level: 0, entries: [] }, /invalid/],
      [{ v: 2, level: 1, entries: Array(MAX_INDEX_ENTRIES + 1).fill([id, 1, 1]) }, /invalid/],
      [
        {
          v: 2,
          level: 1,
          entries: [
            [id, 1, 2 ** 52],
            [id, 1, 2 ** 52],
          ],
        },
        /more bytes than a file can hold/,
      ],
    ];
    for (const [object, message] of cases) {
      expect(() => decodeIndexObject(encode(object), "m1")).toThrow(message);
    }
  });

  it("gives only E_CHUNK_CORRUPT for random bytes, truncations, other msgpack and objects made inconsistent", () => {
    const valid = indexNode.map(encodeIndexObject);
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc
        .oneof(valid, manifestV1.map(encodeManifestV1))
        .chain((bytes) =>
          fc.integer({ min: 0, max: Math.max(0, bytes.length - 1) }).map((cut) => bytes.subarray(0, cut)),
        ),
      // One byte of a valid object changed: mostly another number, a broken id or a broken structure.
      valid.chain((bytes) =>
        fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => {
          const copy = Buffer.from(bytes);
          copy[at] = (copy[at] as number) ^ xor;
          return copy;
        }),
      ),
      // Well-formed msgpack of nearly the right shape.
      fc
        .record({
          v: fc.oneof(fc.constant(2), fc.anything()),
          level: fc.oneof(fc.integer({ min: -2, max: 10 }), fc.anything()),
          entries: fc.oneof(
            fc.array(fc.array(fc.oneof(hex64, fc.integer(), fc.double()), { maxLength: 4 })),
            fc.anything(),
          ),
          file: fc.option(fc.record({ chunkSize: fc.integer(), size: fc.integer() }), { nil: undefined }),
        })
        .map((o) => encodeOrJunk(o)),
      fc.anything().map(encodeOrJunk),
    );
    fc.assert(fc.property(inputs, expectCorrupt), { numRuns: 2000 });
  });
});

function encodeOrJunk(value: unknown): Uint8Array {
  try {
    return encode(value);
  } catch {
    return new Uint8Array([0xc1]);
  }
}
