// Range arithmetic: clamping a requested range like a file read, the entries covering it and the slice
// of each chunk - together they give exactly the bytes of the range.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clampRange, entriesCovering, sliceOf } from "../../src/client/byte-range.ts";
import type { IndexEntry } from "../../src/client/manifest.ts";

describe("byte ranges", () => {
  it("clamps like a read of a file: past the end stops at the end, a start past it is empty", () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        fc.option(fc.nat(), { nil: undefined }),
        (size, offset, length) => {
          const { start, end } = clampRange(size, { offset, length });
          expect(start).toBe(Math.min(offset ?? 0, size));
          expect(end).toBe(length === undefined ? size : Math.min(size, start + length));
          expect(0 <= start && start <= end && end <= size).toBe(true);
        },
      ),
    );
    expect(clampRange(10, {})).toEqual({ start: 0, end: 10 });
    expect(clampRange(10, { offset: 12, length: 5 })).toEqual({ start: 10, end: 10 });
    expect(clampRange(10, { offset: 8, length: 5 })).toEqual({ start: 8, end: 10 });
    expect(clampRange(10, { offset: 0, length: Number.MAX_SAFE_INTEGER })).toEqual({ start: 0, end: 10 });
  });

  it("refuses offsets and lengths that are not whole numbers from 0 (E_USAGE)", () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => clampRange(10, { offset: bad })).toThrow(expect.objectContaining({ code: "E_USAGE" }));
      expect(() => clampRange(10, { length: bad })).toThrow(/a range's length must be a whole number/);
    }
  });

  it("selects exactly the entries with a byte in the range, whose slices make the range", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }),
        fc.nat({ max: 1000 }),
        fc.nat({ max: 2100 }),
        fc.nat({ max: 2100 }),
        (lengths, base, a, b) => {
          const entries: IndexEntry[] = lengths.map((len, i) => [String(i), len + 28, len]);
          const size = lengths.reduce((x, y) => x + y, 0);
          // The file's bytes: byte k of the object is base + k.
          const file = Array.from({ length: size }, (_, k) => base + k);
          const range = {
            start: base + (Math.min(a, b) % (size + 1)),
            end: base + (Math.max(a, b) % (size + 1)),
          };
          if (range.end < range.start) range.end = range.start;
          const got: number[] = [];
          for (const { entry, offset } of entriesCovering(entries, base, range)) {
            const { from, to } = sliceOf(offset, entry[2], range);
            expect(to).toBeGreaterThan(from);
            for (let k = from; k < to; k++) got.push(offset + k);
          }
          expect(got).toEqual(file.slice(range.start - base, range.end - base));
        },
      ),
      { numRuns: 500 },
    );
  });
});
