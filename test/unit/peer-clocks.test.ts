import { describe, expect, it } from "vitest";
import { MAX_CLOCK_AHEAD_MS } from "../../src/cluster/hlc.ts";
import { PeerClocks } from "../../src/cluster/peer-clocks.ts";

const HOUR = 3_600_000;
const NOW = 10 * HOUR;

describe("PeerClocks", () => {
  it("says once that a peer's clock fell more than 60 s behind, and again only after it recovered", () => {
    const clocks = new PeerClocks(() => NOW);
    expect(clocks.heard("a", NOW - HOUR)).toBe(HOUR);
    expect(clocks.heard("a", NOW - HOUR)).toBeUndefined();
    expect(clocks.heard("a", NOW - 1_000)).toBeUndefined();
    expect(clocks.heard("a", NOW - MAX_CLOCK_AHEAD_MS)).toBeUndefined();
    expect(clocks.heard("a", NOW - MAX_CLOCK_AHEAD_MS - 1)).toBe(MAX_CLOCK_AHEAD_MS + 1);
  });

  it("finds this clock ahead only when more than half of the given peers are behind it", () => {
    const clocks = new PeerClocks(() => NOW);
    clocks.heard("a", NOW - HOUR);
    clocks.heard("b", NOW - HOUR - 5);
    clocks.heard("c", NOW);
    expect(clocks.aheadOfMost(["a", "b"])).toBe(HOUR);
    expect(clocks.aheadOfMost(["a", "b", "c"])).toBe(HOUR);
    expect(clocks.aheadOfMost(["a", "c"])).toBe(0);
    expect(clocks.aheadOfMost(["a"])).toBe(HOUR);
    // Peers not heard from yet do not count; a clock behind its peers is not ahead.
    expect(clocks.aheadOfMost(["x", "y"])).toBe(0);
    clocks.heard("d", NOW + HOUR);
    expect(clocks.aheadOfMost(["d"])).toBe(0);
  });
});
