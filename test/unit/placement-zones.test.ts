// Zone-aware placement: the copies of a chunk go to as many distinct zones as exist, deterministically,
// and a cluster that names no zone places exactly as plain weighted rendezvous hashing did.
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { homesIn, type Layout, rankedIn, writeTargetsIn } from "../../src/cluster/layout.ts";
import {
  homes,
  placementOrder,
  placeWrite,
  rankNodes,
  type WeightedNode,
} from "../../src/cluster/placement.ts";

const nodeId = (label: string) => bytesToHex(blake3(utf8ToBytes(`node ${label}`), { dkLen: 16 }));
const chunkId = (n: number) => bytesToHex(blake3(utf8ToBytes(`chunk ${n}`)));

/** Up to 9 nodes, each with a weight and (maybe) one of up to 4 zones. */
const zonedNodes = fc
  .array(
    fc.record({
      weight: fc.integer({ min: 1, max: 1_000 }),
      zone: fc.option(fc.constantFrom("a", "b", "c", "d"), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 9 },
  )
  .map((specs) => specs.map((s, i) => ({ nodeId: nodeId(`z${i}`), weight: s.weight, zone: s.zone })));

const zoneCount = (nodes: readonly WeightedNode[]) => new Set(nodes.map((n) => n.zone ?? "")).size;

describe("placementOrder", () => {
  it("is rankNodes exactly when no node names a zone (the legacy placement)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 9 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 5 }),
        (weights, n, r) => {
          const nodes = weights.map((weight, i) => ({ nodeId: nodeId(`w${i}`), weight }));
          const chunk = chunkId(n);
          expect(placementOrder(chunk, nodes)).toEqual(rankNodes(chunk, nodes));
          expect(homes(chunk, nodes, r)).toEqual(rankNodes(chunk, nodes).slice(0, r));
          const ids = nodes.map((node) => node.nodeId);
          expect(homes(chunk, ids, r)).toEqual(rankNodes(chunk, ids).slice(0, r));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is rankNodes when every node names the same zone", () => {
    fc.assert(
      fc.property(zonedNodes, fc.integer({ min: 0, max: 1_000_000 }), (nodes, n) => {
        const oneZone = nodes.map((node) => ({ ...node, zone: "room-1" }));
        expect(placementOrder(chunkId(n), oneZone)).toEqual(rankNodes(chunkId(n), oneZone));
      }),
      { numRuns: 200 },
    );
  });

  it("puts R copies in min(R, zones) distinct zones, each zone's best-ranked node first", () => {
    fc.assert(
      fc.property(
        zonedNodes,
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 1, max: 6 }),
        (nodes, n, r) => {
          const chunk = chunkId(n);
          const zoneOf = new Map(nodes.map((node) => [node.nodeId, node.zone ?? ""]));
          const chosen = homes(chunk, nodes, r);
          expect(chosen).toHaveLength(Math.min(r, nodes.length));
          expect(new Set(chosen).size).toBe(chosen.length);
          expect(new Set(chosen.map((id) => zoneOf.get(id))).size).toBe(
            Math.min(r, zoneCount(nodes), chosen.length),
          );
          // The node a zone contributes first is the best-ranked node of that zone.
          const ranked = rankNodes(chunk, nodes);
          const order = placementOrder(chunk, nodes);
          const leaders = order.slice(0, zoneCount(nodes));
          for (const leader of leaders) {
            const zone = zoneOf.get(leader);
            expect(ranked.find((id) => zoneOf.get(id) === zone)).toBe(leader);
          }
          // The leaders come in rank order, so the first home is still the best-ranked node overall.
          expect(order[0]).toBe(ranked[0]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is the same on every node, whatever order the nodes are listed in", () => {
    fc.assert(
      fc.property(
        zonedNodes.chain((nodes) =>
          fc.tuple(
            fc.constant(nodes),
            fc.shuffledSubarray(nodes, { minLength: nodes.length, maxLength: nodes.length }),
          ),
        ),
        fc.integer({ min: 0, max: 1_000_000 }),
        ([nodes, shuffled], n) => {
          expect(placementOrder(chunkId(n), shuffled)).toEqual(placementOrder(chunkId(n), nodes));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("zones in a layout", () => {
  // The cluster: 6 nodes in 3 zones, R=3.
  const layout: Layout = {
    v: 1,
    clusterId: "0".repeat(32),
    version: 2,
    issuedAt: 0,
    nodes: ["a", "a", "b", "b", "c", "c"].map((zone, i) => ({
      nodeId: nodeId(`six-${i}`),
      capacity: 1_000,
      zone,
    })),
  };
  const zoneOf = new Map(layout.nodes.map((n) => [n.nodeId, n.zone]));

  it("gives every chunk one home in each of 3 zones, and every node about a half of the chunks", () => {
    const copies = new Map<string, number>();
    for (let n = 0; n < 3_000; n++) {
      const chosen = homesIn(layout, chunkId(n), 3);
      expect(new Set(chosen.map((id) => zoneOf.get(id)))).toEqual(new Set(["a", "b", "c"]));
      expect(rankedIn(layout, chunkId(n)).slice(0, 3)).toEqual(chosen);
      for (const id of chosen) copies.set(id, (copies.get(id) ?? 0) + 1);
    }
    // Two equal nodes per zone share its 3,000 copies: 1,500 each, about 5 standard deviations either way.
    for (const node of layout.nodes) {
      expect(copies.get(node.nodeId)).toBeGreaterThan(1_360);
      expect(copies.get(node.nodeId)).toBeLessThan(1_640);
    }
  });

  it("writes to the two zones left, best nodes first, while a whole zone is down", () => {
    const down = new Set(layout.nodes.filter((n) => n.zone === "c").map((n) => n.nodeId));
    for (let n = 0; n < 500; n++) {
      const targets = writeTargetsIn(layout, chunkId(n), (id) => !down.has(id), 3);
      expect(targets).toHaveLength(3);
      expect(targets.some((id) => down.has(id))).toBe(false);
      expect(new Set(targets.slice(0, 2).map((id) => zoneOf.get(id)))).toEqual(new Set(["a", "b"]));
      expect(targets).toEqual(
        placeWrite(
          chunkId(n),
          layout.nodes.map((node) => ({
            nodeId: node.nodeId,
            alive: !down.has(node.nodeId),
            weight: node.capacity,
            zone: node.zone,
          })),
          3,
        ),
      );
    }
  });
});
