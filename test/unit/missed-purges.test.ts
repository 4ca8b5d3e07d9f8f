// The verdict on a node back from an absence (src/cluster/missed-purges.ts), as a pure function: what the
// node acknowledged to each peer, the purge horizon a peer reports, and its standing before.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareHlc } from "../../src/cluster/hlc.ts";
import { judge, missedPurge, standingAtStart } from "../../src/cluster/missed-purges.ts";
import type { Hlc } from "../../src/cluster/types.ts";

const hlc = fc.record({ wall: fc.nat({ max: 2 ** 45 }), logical: fc.nat({ max: 1000 }) });
const acked = (entries: [string, Hlc][]) => new Map(entries.map(([peer, through]) => [peer, { through }]));

describe("missed purges", () => {
  it("a peer that purged past what this node acknowledged to it makes a returning node stale", () => {
    const acks = acked([["a", { wall: 100, logical: 3 }]]);
    const report = (purgedThrough: Hlc | undefined) => judge("deciding", acks, { peer: "a", purgedThrough });
    expect(report({ wall: 100, logical: 4 })).toBe("stale");
    expect(report({ wall: 101, logical: 0 })).toBe("stale");
    expect(report({ wall: 100, logical: 3 })).toBe("current");
    expect(report({ wall: 99, logical: 9 })).toBe("current");
    expect(report(undefined)).toBe("current"); // purged nothing, or a peer that does not say
  });

  it("a peer this node never acknowledged to counts only if it purged anything", () => {
    const acks = acked([["a", { wall: 100, logical: 0 }]]);
    expect(judge("deciding", acks, { peer: "b", purgedThrough: { wall: 1, logical: 0 } })).toBe("stale");
    expect(judge("deciding", acks, { peer: "b", purgedThrough: null })).toBe("current");
  });

  it("the first peer heard settles it: a current or stale node stays so", () => {
    const acks = acked([]);
    const purged = { peer: "a", purgedThrough: { wall: 5, logical: 0 } };
    expect(judge("current", acks, purged)).toBe("current");
    expect(judge("stale", acks, { peer: "a", purgedThrough: undefined })).toBe("stale");
  });

  it("a node that never acknowledged anything starts current; a marked one starts stale", () => {
    expect(standingAtStart(0, false)).toBe("current");
    expect(standingAtStart(2, false)).toBe("deciding");
    expect(standingAtStart(0, true)).toBe("stale");
  });

  it("is stale exactly when the purge horizon is past the acknowledgement (property)", () => {
    fc.assert(
      fc.property(fc.option(hlc, { nil: undefined }), fc.option(hlc, { nil: undefined }), (ack, purged) => {
        const expected = purged !== undefined && (ack === undefined || compareHlc(purged, ack) > 0);
        expect(missedPurge(ack, purged)).toBe(expected);
        const acks = acked(ack === undefined ? [] : [["p", ack]]);
        expect(judge("deciding", acks, { peer: "p", purgedThrough: purged })).toBe(
          expected ? "stale" : "current",
        );
      }),
    );
  });
});
