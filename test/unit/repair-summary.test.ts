import { describe, expect, it } from "vitest";
import { type NodeRepair, summarizeRepair } from "../../src/cluster/repair-summary.ts";

const node = (over: Partial<NodeRepair> = {}): NodeRepair => ({
  misplaced: 0,
  bytesToMove: 0,
  bytesMoved: 0,
  copiesDropped: 0,
  bytesPerSecond: 100_000_000,
  etaSeconds: 0,
  ...over,
});

describe("summarizeRepair", () => {
  it("adds misplaced copies and bytes left over the nodes, and takes the slowest node's ETA", () => {
    expect(
      summarizeRepair([
        node({ misplaced: 3, bytesToMove: 5_000_000, etaSeconds: 5 }),
        node({ misplaced: 1, bytesToMove: 9_000_000, etaSeconds: 9 }),
        node(),
      ]),
    ).toEqual({ misplaced: 4, bytesToMove: 14_000_000, etaSeconds: 9 });
  });

  it("says 0 seconds when nothing is left, and unknown when a node that owes bytes gives no ETA", () => {
    expect(summarizeRepair([node(), node()])).toEqual({ misplaced: 0, bytesToMove: 0, etaSeconds: 0 });
    expect(summarizeRepair([node({ bytesToMove: 10, etaSeconds: null }), node()]).etaSeconds).toBeNull();
    // A node with nothing to move does not hold the ETA back, whatever it says.
    expect(summarizeRepair([node({ bytesToMove: 0, etaSeconds: null }), node()]).etaSeconds).toBe(0);
  });

  it("is unknown while a node that is up has not reported (no scan yet, or an older node)", () => {
    expect(summarizeRepair([node({ misplaced: 2 }), undefined])).toEqual({
      misplaced: null,
      bytesToMove: null,
      etaSeconds: null,
    });
    expect(summarizeRepair([node({ misplaced: null, bytesToMove: null, etaSeconds: null })])).toEqual({
      misplaced: null,
      bytesToMove: null,
      etaSeconds: null,
    });
    expect(summarizeRepair([])).toEqual({ misplaced: 0, bytesToMove: 0, etaSeconds: 0 });
  });
});
