// Last-writer-wins merge of catalog entries. The order is total, so merging is commutative,
// associative and idempotent: replicas that receive the same entries in any order converge.
import { compareHlc } from "./hlc.ts";
import type { CatalogEntry } from "./types.ts";

/**
 * Orders two entries for the same path by (hlc, writer). A writer never stamps two entries with one
 * clock value, so the remaining fields only break ties between entries that should not exist; they
 * keep the order total so that even those cannot make replicas disagree.
 */
export function compareEntries(a: CatalogEntry, b: CatalogEntry): number {
  return (
    compareHlc(a.hlc, b.hlc) ||
    compareText(a.writer, b.writer) ||
    Number(a.deleted) - Number(b.deleted) ||
    compareNullable(a.fileKey, b.fileKey, compareText) ||
    compareNullable(a.manifestId, b.manifestId, compareText) ||
    Math.sign(a.size - b.size) ||
    compareNullable(a.meta, b.meta, compareBytes)
  );
}

/** The entry that wins for its path: a later delete beats an earlier write and vice versa. */
export function merge(local: CatalogEntry | undefined, incoming: CatalogEntry): CatalogEntry {
  if (local === undefined) return incoming;
  return compareEntries(incoming, local) > 0 ? incoming : local;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareNullable<T>(a: T | null, b: T | null, compare: (x: T, y: T) => number): number {
  if (a === null || b === null) return Number(a !== null) - Number(b !== null);
  return compare(a, b);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return Math.sign(a.length - b.length);
}
