// Weighted rendezvous (highest-random-weight) placement: every node ranks the layout's nodes for a chunk
// by a score drawn from BLAKE3(nodeId || chunkId) and weighted by the node's capacity, so every node and
// client agrees on a chunk's homes without coordination, a node's share of chunks follows its weight,
// and a node joining or leaving moves only the chunks it gains or loses. When nodes name zones (rooms,
// sites), the copies of a chunk go to as many distinct zones as there are, as Garage places them.
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, hexToBytes } from "@noble/hashes/utils.js";
import { DmfsError } from "../errors.ts";

/** A node that may take a write now; `weight` defaults to 1. */
export type MemberLiveness = { nodeId: string; alive: boolean; weight?: number; zone?: string };

/**
 * A node that may own data, its weight (its capacity in bytes; only ratios matter) and its zone. Nodes
 * without a zone share one unnamed zone, so a cluster that names no zone has one zone in all.
 */
export type WeightedNode = { nodeId: string; weight: number; zone?: string };

const TWO_POW_53 = 2 ** 53;
/** The zone of nodes that name none (a zone's name is never empty). */
const UNNAMED_ZONE = "";

/**
 * Every distinct node, best home for `chunkId` first. Plain ids all weigh the same; with equal weights
 * the order is that of the digests alone, the order placement had before weights existed.
 */
export function rankNodes(chunkId: string, nodes: readonly (string | WeightedNode)[]): string[] {
  const chunk = hexToBytes(chunkId);
  const seen = new Set<string>();
  const scored: { nodeId: string; digest: Uint8Array; score: number }[] = [];
  for (const node of nodes) {
    const { nodeId, weight } = typeof node === "string" ? { nodeId: node, weight: 1 } : node;
    if (seen.has(nodeId)) continue;
    seen.add(nodeId);
    assertWeight(nodeId, weight);
    const digest = blake3(concatBytes(hexToBytes(nodeId), chunk));
    scored.push({ nodeId, digest, score: weightedScore(digest, weight) });
  }
  scored.sort(
    (a, b) =>
      b.score - a.score || compareDigestsDescending(a.digest, b.digest) || (a.nodeId < b.nodeId ? -1 : 1),
  );
  return scored.map((s) => s.nodeId);
}

/**
 * The standard weighted rendezvous score `-w / ln(h)`, with `h` the digest's first 53 bits mapped into
 * the open interval (0, 1): the node with the highest score wins, and a node wins a share of chunks
 * proportional to its weight. Monotone in `h`, so equal weights rank by digest.
 */
export function weightedScore(digest: Uint8Array, weight: number): number {
  let top = 0;
  for (let i = 0; i < 7; i++) top = top * 256 + (digest[i] ?? 0);
  const h = (Math.floor(top / 8) + 0.5) / TWO_POW_53; // 53 bits, never 0 or 1
  return -weight / Math.log(h);
}

/**
 * Every distinct node in the order a chunk's copies go to them: first the best-ranked node of each zone
 * (in rank order), then the second-best of each zone, and so on. So the first R nodes span
 * min(R, zones) distinct zones, and losing a zone loses no chunk when R <= zones. With one zone (none
 * named) this is exactly `rankNodes`.
 */
export function placementOrder(chunkId: string, nodes: readonly (string | WeightedNode)[]): string[] {
  const zoneOf = new Map<string, string>();
  for (const node of nodes) {
    if (typeof node === "string") {
      if (!zoneOf.has(node)) zoneOf.set(node, UNNAMED_ZONE);
    } else if (!zoneOf.has(node.nodeId)) {
      zoneOf.set(node.nodeId, node.zone ?? UNNAMED_ZONE);
    }
  }
  const takenInZone = new Map<string, number>();
  const keyed = rankNodes(chunkId, nodes).map((nodeId, rank) => {
    const zone = zoneOf.get(nodeId) ?? UNNAMED_ZONE;
    const round = takenInZone.get(zone) ?? 0; // how many better-ranked nodes of its zone come before it
    takenInZone.set(zone, round + 1);
    return { nodeId, round, rank };
  });
  keyed.sort((a, b) => a.round - b.round || a.rank - b.rank);
  return keyed.map((k) => k.nodeId);
}

/** The `replication` nodes that should hold `chunkId` (all of them when there are fewer). */
export function homes(
  chunkId: string,
  nodes: readonly (string | WeightedNode)[],
  replication: number,
): string[] {
  assertReplication(replication);
  return placementOrder(chunkId, nodes).slice(0, replication);
}

/**
 * Where a write of `chunkId` goes now: the first `replication` alive nodes in placement order, so a
 * down home is replaced by the next alive node, in another zone when one is left (repair moves the copy
 * home later).
 */
export function placeWrite(
  chunkId: string,
  members: readonly MemberLiveness[],
  replication: number,
): string[] {
  assertReplication(replication);
  const alive = members
    .filter((m) => m.alive)
    .map((m) => ({ nodeId: m.nodeId, weight: m.weight ?? 1, zone: m.zone }));
  return placementOrder(chunkId, alive).slice(0, replication);
}

function compareDigestsDescending(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const difference = (b[i] ?? 0) - (a[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

function assertWeight(nodeId: string, weight: number): void {
  if (!Number.isFinite(weight) || weight <= 0) {
    throw new DmfsError("E_CONFIG", `node ${nodeId.slice(0, 8)} has weight ${weight}; a weight must be > 0`, {
      subject: nodeId,
    });
  }
}

function assertReplication(replication: number): void {
  if (!Number.isInteger(replication) || replication < 1) {
    throw new DmfsError("E_CONFIG", `replication factor must be a positive integer, got ${replication}`, {
      subject: "replication",
    });
  }
}
