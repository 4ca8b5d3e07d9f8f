// The cluster's repair figures from the nodes' own: misplaced copies and bytes left to move add up over
// the nodes (each node moves only copies it holds), and the cluster is done when its slowest node is,
// since nodes move their copies at once. `dmfs status` and the monitor both show these.
import type { NodeStatus } from "../protocol/messages.ts";

export type NodeRepair = NonNullable<NodeStatus["repair"]>;

export interface RepairSummary {
  /** Copies held off their homes; null while a node that is up has not reported one. */
  misplaced: number | null;
  /** Bytes the nodes still owe the homes; null while a node that is up has not reported it. */
  bytesToMove: number | null;
  /** Seconds until the slowest node has moved its share; 0 when nothing is left; null when unknown. */
  etaSeconds: number | null;
}

/** `nodes`: the repair figures of every node that is up (undefined: did not answer, or too old to say). */
export function summarizeRepair(nodes: readonly (NodeRepair | undefined)[]): RepairSummary {
  const sum = (pick: (r: NodeRepair) => number | null): number | null => {
    let total = 0;
    for (const r of nodes) {
      const value = r === undefined ? null : pick(r);
      if (value === null) return null;
      total += value;
    }
    return total;
  };
  const bytesToMove = sum((r) => r.bytesToMove);
  let etaSeconds: number | null = bytesToMove === null ? null : 0;
  for (const r of nodes) {
    if (etaSeconds === null || r === undefined || (r.bytesToMove ?? 0) === 0) continue;
    etaSeconds = r.etaSeconds === null ? null : Math.max(etaSeconds, r.etaSeconds);
  }
  return { misplaced: sum((r) => r.misplaced), bytesToMove, etaSeconds };
}
