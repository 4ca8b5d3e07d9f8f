// Anti-entropy digests: the catalog is split into 256 buckets by the first byte of pathId, and each
// bucket is summarised by one BLAKE3 digest, so two nodes find what differs by comparing 256 digests
// and then exchanging only the entries of the buckets that disagree.
import { blake3 } from "@noble/hashes/blake3.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import type { CatalogEntry } from "./types.ts";

export const BUCKET_COUNT = 256;

/** The fields that decide a last-writer-wins outcome; the rest follow from (pathId, hlc, writer). */
export type DigestFields = Pick<CatalogEntry, "pathId" | "hlc" | "writer" | "deleted">;

/** pathId (32) | wall ms, uint64 BE (8) | logical, uint16 BE (2) | writer (16) | deleted, 0 or 1 (1). */
export const DIGEST_RECORD_LENGTH = 59;

export function bucketOf(pathId: string): number {
  return Number.parseInt(pathId.slice(0, 2), 16);
}

/** The canonical bytes of one entry inside its bucket's digest. */
export function digestRecord(entry: DigestFields): Uint8Array {
  const record = new Uint8Array(DIGEST_RECORD_LENGTH);
  const view = new DataView(record.buffer);
  record.set(hexToBytes(entry.pathId), 0);
  view.setBigUint64(32, BigInt(entry.hlc.wall));
  view.setUint16(40, entry.hlc.logical);
  record.set(hexToBytes(entry.writer), 42);
  record[58] = entry.deleted ? 1 : 0;
  return record;
}

/** Digest of one bucket from its entries already sorted by pathId (the catalog streams them so). */
export function digestSortedBucket(sortedEntries: Iterable<DigestFields>): Uint8Array {
  const hasher = blake3.create();
  for (const entry of sortedEntries) hasher.update(digestRecord(entry));
  return hasher.digest();
}

/** All 256 bucket digests of a set of entries, in any order. */
export function bucketDigests(entries: Iterable<DigestFields>): Uint8Array[] {
  const buckets: DigestFields[][] = Array.from({ length: BUCKET_COUNT }, () => []);
  for (const entry of entries) buckets[bucketOf(entry.pathId)]?.push(entry);
  return buckets.map((bucket) =>
    digestSortedBucket(bucket.sort((a, b) => (a.pathId < b.pathId ? -1 : a.pathId > b.pathId ? 1 : 0))),
  );
}

/** Indexes of the buckets whose digests differ; a bucket missing on either side counts as different. */
export function diffBuckets(mine: readonly Uint8Array[], theirs: readonly Uint8Array[]): number[] {
  const differing: number[] = [];
  for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
    const a = mine[bucket];
    const b = theirs[bucket];
    if (a === undefined || b === undefined || !equalBytes(a, b)) differing.push(bucket);
  }
  return differing;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
