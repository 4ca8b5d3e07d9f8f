// Rendezvous (highest-random-weight) placement: every node ranks members for a chunk by
// BLAKE3(nodeId || chunkId) and so agrees on its homes without coordination; a member joining or
// leaving moves only the chunks it gains or loses.
import { blake3 } from "@noble/hashes/blake3.js";
import { concatBytes, hexToBytes } from "@noble/hashes/utils.js";
import { DmfsError } from "../errors.ts";

export type MemberLiveness = { nodeId: string; alive: boolean };

/** Every distinct node id, best home for `chunkId` first. Ids are hex strings. */
export function rankNodes(chunkId: string, nodeIds: readonly string[]): string[] {
  const chunk = hexToBytes(chunkId);
  const scored = [...new Set(nodeIds)].map((nodeId) => ({
    nodeId,
    score: blake3(concatBytes(hexToBytes(nodeId), chunk)),
  }));
  scored.sort((a, b) => compareDigestsDescending(a.score, b.score) || (a.nodeId < b.nodeId ? -1 : 1));
  return scored.map((s) => s.nodeId);
}

/** The `replication` members that should hold `chunkId` (all of them when there are fewer). */
export function homes(chunkId: string, members: readonly string[], replication: number): string[] {
  assertReplication(replication);
  return rankNodes(chunkId, members).slice(0, replication);
}

/**
 * Where a write of `chunkId` goes now: the top `replication` alive members in rank order, so a down
 * home is replaced by the next-ranked alive member (repair moves the copy home later).
 */
export function placeWrite(
  chunkId: string,
  members: readonly MemberLiveness[],
  replication: number,
): string[] {
  assertReplication(replication);
  const alive = members.filter((m) => m.alive).map((m) => m.nodeId);
  return rankNodes(chunkId, alive).slice(0, replication);
}

function compareDigestsDescending(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const difference = (b[i] ?? 0) - (a[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

function assertReplication(replication: number): void {
  if (!Number.isInteger(replication) || replication < 1) {
    throw new DmfsError("E_CONFIG", `replication factor must be a positive integer, got ${replication}`, {
      subject: "replication",
    });
  }
}
