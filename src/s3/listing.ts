// One page of an S3 listing from keys in S3 order: prefix, delimiter (keys folded into common prefixes),
// where to start and how many. Pure, so the rules are tested exhaustively apart from any store.
import type { ListPosition } from "./continuation-token.ts";

export interface ListQuery {
  prefix: string;
  delimiter: string;
  /** Start after this position (StartAfter / marker, or a continuation token). */
  after: ListPosition | undefined;
  maxKeys: number;
}

export interface ListPage<T> {
  objects: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Where the next page starts, when truncated. */
  next: ListPosition | undefined;
}

/** S3 orders keys by their UTF-8 bytes (which JS string comparison does not for astral characters). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** `sorted` must be in `compareKeys` order with unique keys. */
export function listPage<T extends { key: string }>(sorted: readonly T[], query: ListQuery): ListPage<T> {
  const { prefix, delimiter, after, maxKeys } = query;
  const page: ListPage<T> = { objects: [], commonPrefixes: [], isTruncated: false, next: undefined };
  if (maxKeys <= 0) return page;
  let last: ListPosition | undefined;
  let count = 0;
  for (const item of sorted) {
    const key = item.key;
    if (!key.startsWith(prefix)) continue;
    if (after && (compareKeys(key, after.after) <= 0 || (after.prefix && key.startsWith(after.after))))
      continue;
    const cut = delimiter === "" ? -1 : key.indexOf(delimiter, prefix.length);
    const common = cut === -1 ? undefined : key.slice(0, cut + delimiter.length);
    if (common !== undefined && last?.prefix && last.after === common) continue;
    if (count === maxKeys) {
      page.isTruncated = true;
      page.next = last;
      break;
    }
    if (common === undefined) {
      page.objects.push(item);
      last = { after: key, prefix: false };
    } else {
      page.commonPrefixes.push(common);
      last = { after: common, prefix: true };
    }
    count++;
  }
  return page;
}
