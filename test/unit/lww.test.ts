import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareEntries, merge } from "../../src/cluster/lww.ts";
import type { CatalogEntry } from "../../src/cluster/types.ts";

const PATH = "ab".repeat(32);
const WRITER_A = "0a".repeat(16);
const WRITER_B = "0b".repeat(16);

function write(wall: number, writer = WRITER_A, fileKey = "11".repeat(32)): CatalogEntry {
  return {
    pathId: PATH,
    hlc: { wall, logical: 0 },
    writer,
    deleted: false,
    fileKey,
    manifestId: "22".repeat(32),
    size: 10,
    meta: new Uint8Array([1, 2]),
  };
}

function deletion(wall: number, writer = WRITER_A): CatalogEntry {
  return {
    pathId: PATH,
    hlc: { wall, logical: 0 },
    writer,
    deleted: true,
    fileKey: null,
    manifestId: null,
    size: 0,
    meta: null,
  };
}

// Small domains on purpose: collisions in clock, writer and content are what the tie-breaks must settle.
const hex = (bytes: number) => fc.constantFrom("0", "1", "f").map((c) => c.repeat(bytes * 2));
const entry: fc.Arbitrary<CatalogEntry> = fc.record({
  pathId: fc.constant(PATH),
  hlc: fc.record({ wall: fc.integer({ min: 0, max: 3 }), logical: fc.integer({ min: 0, max: 2 }) }),
  writer: hex(16),
  deleted: fc.boolean(),
  fileKey: fc.option(hex(32)),
  manifestId: fc.option(hex(32)),
  size: fc.integer({ min: 0, max: 2 }),
  meta: fc.option(fc.uint8Array({ maxLength: 2 })),
});

describe("merge", () => {
  it("takes the incoming entry when there is none", () => {
    const incoming = write(1);
    expect(merge(undefined, incoming)).toBe(incoming);
  });

  it("lets a later delete beat an earlier write", () => {
    expect(merge(write(1), deletion(2))).toEqual(deletion(2));
    expect(merge(deletion(2), write(1))).toEqual(deletion(2));
  });

  it("lets a later write beat an earlier delete", () => {
    expect(merge(deletion(1), write(2))).toEqual(write(2));
    expect(merge(write(2), deletion(1))).toEqual(write(2));
  });

  it("orders by the logical counter within one millisecond", () => {
    const later = { ...write(5), hlc: { wall: 5, logical: 1 } };
    expect(merge(later, write(5, WRITER_A, "33".repeat(32)))).toBe(later);
  });

  it("breaks a clock tie by writer id", () => {
    expect(merge(write(5, WRITER_B), write(5, WRITER_A)).writer).toBe(WRITER_B);
    expect(merge(write(5, WRITER_A), write(5, WRITER_B)).writer).toBe(WRITER_B);
  });

  it("keeps the local entry when the same entry is delivered again", () => {
    const local = write(3);
    expect(merge(local, write(3))).toBe(local);
  });

  it("is commutative", () => {
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        expect(merge(a, b)).toEqual(merge(b, a));
      }),
    );
  });

  it("is associative", () => {
    fc.assert(
      fc.property(entry, entry, entry, (a, b, c) => {
        expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)));
      }),
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        expect(merge(merge(a, b), b)).toEqual(merge(a, b));
        expect(merge(a, a)).toEqual(a);
      }),
    );
  });

  it("converges whatever the order of delivery", () => {
    const deliveries = fc
      .array(entry, { minLength: 1, maxLength: 12 })
      .chain((entries) =>
        fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length })),
      );
    fc.assert(
      fc.property(deliveries, ([inOrder, shuffled]) => {
        const fold = (list: CatalogEntry[]) => list.reduce<CatalogEntry | undefined>(merge, undefined);
        expect(fold(shuffled)).toEqual(fold(inOrder));
      }),
    );
  });
});

describe("compareEntries", () => {
  it("is a total order: only identical entries compare equal", () => {
    fc.assert(
      fc.property(entry, entry, (a, b) => {
        expect(Math.sign(compareEntries(a, b))).toBe(-Math.sign(compareEntries(b, a)));
        if (compareEntries(a, b) === 0) expect(a).toEqual(b);
      }),
    );
  });
});
