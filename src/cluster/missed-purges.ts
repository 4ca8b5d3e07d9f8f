// Whether a node that returns to the cluster may merge its catalog back. A peer purges a tombstone only
// once every node of its layout acknowledged holding it (tombstone-acks.ts), so a node that stayed in
// the layout while away cannot have missed a purge: it comes back, receives the tombstones, and its old
// entries lose. A node that did miss one - taken out of the layout while away (`dmfs node remove`),
// restored from an old backup, or the peer was alone - may still hold a file whose tombstone is gone
// everywhere else, and merging would bring that file back. The evidence: the peer's purge horizon (the
// latest arrival stamp, on the peer, of a tombstone it purged) against what this node acknowledged to
// that peer. Pure: the node's anti-entropy feeds it what it hears.
import { compareHlc } from "./hlc.ts";
import type { Hlc } from "./types.ts";

/** deciding: returned, no peer heard yet; current: may merge; stale: missed a purge, read-only. */
export type CatalogStanding = "deciding" | "current" | "stale";

/**
 * True when the peer purged a tombstone that arrived there after the last stamp this node acknowledged
 * to it (or purged any while this node never acknowledged anything to it). `purgedThrough` undefined:
 * the peer did not say (a node built before this rule), which is no evidence.
 */
export function missedPurge(ackedThrough: Hlc | undefined, purgedThrough: Hlc | null | undefined): boolean {
  if (purgedThrough === undefined || purgedThrough === null) return false;
  return ackedThrough === undefined || compareHlc(purgedThrough, ackedThrough) > 0;
}

/** What a peer reported in its digest reply. */
export interface PurgeReport {
  peer: string;
  purgedThrough: Hlc | null | undefined;
}

/**
 * The standing after hearing `report`, from the standing before it and the stamps this node
 * acknowledged to each peer. Only a deciding node is judged: the first peer heard settles it, since
 * nothing may merge or be offered before then. A current or stale node stays as it is.
 */
export function judge(
  standing: CatalogStanding,
  acked: ReadonlyMap<string, { through: Hlc }>,
  report: PurgeReport,
): CatalogStanding {
  if (standing !== "deciding") return standing;
  return missedPurge(acked.get(report.peer)?.through, report.purgedThrough) ? "stale" : "current";
}

/** A node that never acknowledged anything (new, or made before acknowledgements were kept) has nothing to judge. */
export function standingAtStart(acksSent: number, markedReadOnly: boolean): CatalogStanding {
  if (markedReadOnly) return "stale";
  return acksSent === 0 ? "current" : "deciding";
}
