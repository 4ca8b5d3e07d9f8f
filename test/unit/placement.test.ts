import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { homes, placeWrite, rankNodes } from "../../src/cluster/placement.ts";

// Fixed seeds: ids derived from labels, so every run (and every machine) sees the same placements.
const nodeId = (label: string) => bytesToHex(blake3(utf8ToBytes(`node ${label}`), { dkLen: 16 }));
const chunkId = (n: number) => bytesToHex(blake3(utf8ToBytes(`chunk ${n}`)));
const chunkIds = (count: number) => Array.from({ length: count }, (_, n) => chunkId(n));
const FIVE_NODES = ["a", "b", "c", "d", "e"].map(nodeId);

describe("rankNodes", () => {
  it("ranks every node once, the same way whatever the input order", () => {
    const chunk = chunkId(1);
    const ranked = rankNodes(chunk, FIVE_NODES);
    expect([...ranked].sort()).toEqual([...FIVE_NODES].sort());
    expect(rankNodes(chunk, [...FIVE_NODES].reverse())).toEqual(ranked);
    expect(rankNodes(chunk, [...FIVE_NODES, ...FIVE_NODES])).toEqual(ranked);
  });

  it("orders by BLAKE3(nodeId || chunkId), highest digest first", () => {
    const chunk = chunkId(2);
    const score = (id: string) => bytesToHex(blake3(Buffer.from(id + chunk, "hex")));
    const expected = [...FIVE_NODES].sort((a, b) => (score(a) < score(b) ? 1 : -1));
    expect(rankNodes(chunk, FIVE_NODES)).toEqual(expected);
  });
});

describe("homes", () => {
  it("are the top R of the ranking", () => {
    const chunk = chunkId(3);
    expect(homes(chunk, FIVE_NODES, 3)).toEqual(rankNodes(chunk, FIVE_NODES).slice(0, 3));
  });

  it("are all members when R exceeds the member count", () => {
    expect(homes(chunkId(4), FIVE_NODES.slice(0, 2), 3)).toHaveLength(2);
  });

  it("reject a replication factor that is not a positive integer", () => {
    for (const bad of [0, -1, 1.5]) {
      expect(() => homes(chunkId(5), FIVE_NODES, bad)).toThrow(
        expect.objectContaining({ code: "E_CONFIG", subject: "replication" }),
      );
    }
  });

  it("spread 10k chunks evenly over 5 nodes", () => {
    const primaries = new Map<string, number>();
    const copies = new Map<string, number>();
    for (const chunk of chunkIds(10_000)) {
      const [first, ...rest] = homes(chunk, FIVE_NODES, 3);
      if (first !== undefined) primaries.set(first, (primaries.get(first) ?? 0) + 1);
      for (const home of [first, ...rest]) if (home) copies.set(home, (copies.get(home) ?? 0) + 1);
    }
    // Expected 2,000 primaries and 6,000 copies per node; the bands are about 5 standard deviations.
    for (const id of FIVE_NODES) {
      expect(primaries.get(id)).toBeGreaterThan(1_800);
      expect(primaries.get(id)).toBeLessThan(2_200);
      expect(copies.get(id)).toBeGreaterThan(5_800);
      expect(copies.get(id)).toBeLessThan(6_200);
    }
  });

  it("move only about 1/N of the chunks when a member joins, and only onto it", () => {
    const newcomer = nodeId("f");
    const sixNodes = [...FIVE_NODES, newcomer];
    let primariesMoved = 0;
    let homeSetsChanged = 0;
    const chunks = chunkIds(5_000);
    for (const chunk of chunks) {
      const before = homes(chunk, FIVE_NODES, 3);
      const after = homes(chunk, sixNodes, 3);
      if (before[0] !== after[0]) {
        primariesMoved++;
        expect(after[0]).toBe(newcomer);
      }
      const lost = before.filter((id) => !after.includes(id));
      if (lost.length > 0) {
        homeSetsChanged++;
        // Exactly one copy moves, and it moves to the newcomer.
        expect(lost).toHaveLength(1);
        expect(after.filter((id) => !before.includes(id))).toEqual([newcomer]);
      }
    }
    // A newcomer is the best of 6 for 1/6 of the chunks and in the top 3 for 3/6.
    expect(primariesMoved / chunks.length).toBeGreaterThan(0.14);
    expect(primariesMoved / chunks.length).toBeLessThan(0.19);
    expect(homeSetsChanged / chunks.length).toBeGreaterThan(0.47);
    expect(homeSetsChanged / chunks.length).toBeLessThan(0.53);
  });
});

describe("placeWrite", () => {
  const members = (down: string[] = []) =>
    FIVE_NODES.map((id) => ({ nodeId: id, alive: !down.includes(id) }));

  it("goes to the homes when they are all alive", () => {
    const chunk = chunkId(6);
    expect(placeWrite(chunk, members(), 3)).toEqual(homes(chunk, FIVE_NODES, 3));
  });

  it("replaces a down home by the next-ranked alive member", () => {
    const chunk = chunkId(7);
    const [first, second, third, fourth] = rankNodes(chunk, FIVE_NODES);
    expect(placeWrite(chunk, members([second ?? ""]), 3)).toEqual([first, third, fourth]);
  });

  it("uses every alive member when fewer than R are alive", () => {
    const chunk = chunkId(8);
    const down = FIVE_NODES.slice(0, 3);
    const placed = placeWrite(chunk, members(down), 3);
    expect([...placed].sort()).toEqual(FIVE_NODES.slice(3).sort());
    expect(placeWrite(chunk, members(FIVE_NODES), 3)).toEqual([]);
  });

  it("rejects a replication factor of zero", () => {
    expect(() => placeWrite(chunkId(9), members(), 0)).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
  });
});

describe("weighted placement", () => {
  it("with equal weights ranks exactly as the unweighted digest order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0.001, max: 1e15, noNaN: true }),
        (n, w) => {
          const chunk = chunkId(n);
          const weighted = FIVE_NODES.map((id) => ({ nodeId: id, weight: w }));
          expect(rankNodes(chunk, weighted)).toEqual(rankNodes(chunk, FIVE_NODES));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives each node a share of first places that follows its weight", () => {
    // Any weights: the share of chunks a node ranks first for is w / sum(w), within 4 standard deviations.
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 5 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (weights, offset) => {
          const nodes = weights.map((weight, i) => ({ nodeId: nodeId(`w${i}`), weight }));
          const total = weights.reduce((a, b) => a + b, 0);
          const count = 4_000;
          const firsts = new Map<string, number>();
          for (let n = 0; n < count; n++) {
            const [first] = rankNodes(chunkId(offset + n), nodes);
            if (first) firsts.set(first, (firsts.get(first) ?? 0) + 1);
          }
          for (const node of nodes) {
            const p = node.weight / total;
            const sd = Math.sqrt(count * p * (1 - p));
            expect(Math.abs((firsts.get(node.nodeId) ?? 0) - count * p)).toBeLessThan(4 * sd + 1);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("moves only chunks gained by a node whose weight grows", () => {
    const before = FIVE_NODES.map((id) => ({ nodeId: id, weight: 1 }));
    const grown = FIVE_NODES[0] as string;
    const after = before.map((n) => (n.nodeId === grown ? { ...n, weight: 3 } : n));
    for (const chunk of chunkIds(2_000)) {
      const lost = homes(chunk, before, 3).filter((id) => !homes(chunk, after, 3).includes(id));
      if (lost.length > 0) expect(homes(chunk, after, 3)).toContain(grown);
    }
  });

  it("rejects a weight that is not a positive number", () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => rankNodes(chunkId(1), [{ nodeId: FIVE_NODES[0] as string, weight: bad }])).toThrow(
        expect.objectContaining({ code: "E_CONFIG" }),
      );
    }
  });

  it("weighs a write's targets by the weights given", () => {
    const chunk = chunkId(11);
    const members = FIVE_NODES.map((id, i) => ({ nodeId: id, alive: true, weight: i + 1 }));
    expect(placeWrite(chunk, members, 3)).toEqual(
      homes(
        chunk,
        members.map((m) => ({ nodeId: m.nodeId, weight: m.weight })),
        3,
      ),
    );
  });
});
