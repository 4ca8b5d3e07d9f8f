// Byte ranges of a file and which entries of an index object cover them: the pure arithmetic of a
// ranged read. A range is [start, end) in plaintext bytes of the file.
import { DmfsError } from "../errors.ts";
import type { IndexEntry } from "./manifest.ts";

export interface ByteRange {
  start: number;
  end: number;
}

/** What a caller asks for: from `offset` (default 0), `length` bytes (default: to the end). */
export interface RangeRequest {
  offset?: number;
  length?: number;
}

/**
 * The bytes of a file of `size` a request covers, clamped like a read of a file: a range running past
 * the end stops at the end, one starting past it is empty. Offsets and lengths must be whole numbers
 * from 0 (E_USAGE otherwise).
 */
export function clampRange(size: number, request: RangeRequest): ByteRange {
  checkRangeRequest(request);
  const { offset = 0, length } = request;
  const start = Math.min(offset, size);
  const end = length === undefined ? size : Math.min(size, start + length);
  return { start, end };
}

/** Refuses (E_USAGE) an offset or length that is not a whole number of bytes from 0. */
export function checkRangeRequest({ offset, length }: RangeRequest): void {
  for (const [name, value] of [
    ["offset", offset],
    ["length", length],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new DmfsError(
        "E_USAGE",
        `a range's ${name} must be a whole number of bytes from 0, got ${value}`,
      );
    }
  }
}

/** An entry of an index object that overlaps a range, and the file offset of its first byte. */
export interface CoveringEntry {
  entry: IndexEntry;
  offset: number;
}

/**
 * The entries (in order) overlapping `range`, for an index object whose first byte is at file offset
 * `base`. Entries covering no byte of the range - every entry for an empty range, and empty entries (only a
 * first-format manifest could list one) - are left out.
 */
export function entriesCovering(
  entries: readonly IndexEntry[],
  base: number,
  range: ByteRange,
): CoveringEntry[] {
  const covering: CoveringEntry[] = [];
  if (range.end <= range.start) return covering;
  let offset = base;
  for (const entry of entries) {
    if (offset >= range.end) break;
    const next = offset + entry[2];
    if (next > range.start && next > offset) covering.push({ entry, offset });
    offset = next;
  }
  return covering;
}

/** The part of a chunk starting at file offset `offset` that lies in `range`, as indexes into the chunk. */
export function sliceOf(
  offset: number,
  plaintextLength: number,
  range: ByteRange,
): { from: number; to: number } {
  return {
    from: Math.max(0, range.start - offset),
    to: Math.min(plaintextLength, range.end - offset),
  };
}
