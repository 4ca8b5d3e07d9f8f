import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeLayout,
  encodeLayout,
  findLayoutNode,
  homesIn,
  implicitLayout,
  type Layout,
  nextLayout,
} from "../../src/cluster/layout.ts";
import { createClusterCa, type PemPair } from "../../src/crypto/certificates.ts";
import { signLayout, verifyLayout } from "../../src/crypto/layout-signature.ts";
import { LayoutKeeper } from "../../src/node/layout-keeper.ts";
import { createLogger } from "../../src/node/logger.ts";
import { encode } from "../../src/protocol/codec.ts";

const clusterId = "0123456789abcdef0123456789abcdef";
const otherCluster = "fedcba9876543210fedcba9876543210";
const log = createLogger("silent");
const id = (n: number) => n.toString(16).padStart(32, "0");
const chunk = (n: number) => n.toString(16).padStart(64, "a");
let ca: PemPair;
let impostor: PemPair;
let dir: string;

const layoutOf = (version: number, nodes: number[]): Layout => ({
  v: 1,
  clusterId,
  version,
  issuedAt: 1_700_000_000_000,
  nodes: nodes.map((n) => ({ nodeId: id(n), name: `node-${n}`, capacity: 1000 * (n + 1) })),
});

beforeAll(async () => {
  ca = await createClusterCa(clusterId);
  impostor = await createClusterCa(clusterId);
  dir = await mkdtemp(join(tmpdir(), "dmfs-layout-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the layout format", () => {
  it("round-trips any valid layout", () => {
    const node = fc.record(
      {
        nodeId: fc.stringMatching(/^[0-9a-f]{32}$/),
        name: fc.string({ minLength: 1, maxLength: 64 }),
        capacity: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        zone: fc.string({ minLength: 1, maxLength: 64 }),
      },
      { requiredKeys: ["nodeId", "capacity"] },
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(node, { minLength: 1, maxLength: 20, selector: (n) => n.nodeId }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (nodes, version) => {
          const layout: Layout = { v: 1, clusterId, version, issuedAt: 5, nodes };
          expect(decodeLayout(encodeLayout(layout))).toEqual(layout);
        },
      ),
    );
  });

  it("refuses any other bytes with E_MESSAGE_INVALID, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          decodeLayout(bytes);
        } catch (err) {
          expect(err).toMatchObject({ code: "E_MESSAGE_INVALID" });
        }
      }),
    );
    const twice = { ...layoutOf(2, [1]), nodes: [layoutOf(2, [1]).nodes[0], layoutOf(2, [1]).nodes[0]] };
    expect(() => decodeLayout(encode(twice))).toThrow(expect.objectContaining({ code: "E_MESSAGE_INVALID" }));
    expect(() => decodeLayout(encode({ ...layoutOf(2, [1]), nodes: [] }))).toThrow(/not valid/);
    expect(() => decodeLayout(encode({ ...layoutOf(2, [1]), extra: 1 }))).toThrow(/not valid/);
  });

  it("the next version drops or adds nodes and never leaves none", () => {
    const two = nextLayout(layoutOf(3, [1, 2]), (nodes) => nodes.filter((n) => n.nodeId !== id(2)), 9);
    expect(two).toMatchObject({ version: 4, issuedAt: 9, nodes: [{ nodeId: id(1) }] });
    expect(() => nextLayout(two, () => [])).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });

  it("finds a node by name, id or unique id prefix", () => {
    const layout = layoutOf(2, [0x11, 0x12]);
    expect(findLayoutNode(layout, "node-17").nodeId).toBe(id(0x11));
    expect(findLayoutNode(layout, id(0x12)).nodeId).toBe(id(0x12));
    expect(() => findLayoutNode(layout, "0000")).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    expect(() => findLayoutNode(layout, "node-9")).toThrow(expect.objectContaining({ code: "E_NOT_FOUND" }));
  });

  it("the implicit layout is every member, equally weighted, as placement was before layouts", () => {
    const implicit = implicitLayout(clusterId, [id(3), id(1), id(2), id(1)]);
    expect(implicit.version).toBe(1);
    expect(implicit.nodes.map((n) => n.capacity)).toEqual([1, 1, 1]);
    expect(homesIn(implicit, chunk(1), 2)).toHaveLength(2);
  });
});

describe("a signed layout", () => {
  it("verifies against the cluster CA", () => {
    const signed = signLayout(ca.key, layoutOf(2, [1, 2]));
    expect(verifyLayout(ca.cert, clusterId, signed).layout).toEqual(layoutOf(2, [1, 2]));
  });

  it("is refused when signed by another CA, changed after signing, or for another cluster", () => {
    const forged = signLayout(impostor.key, layoutOf(2, [1, 2]));
    expect(() => verifyLayout(ca.cert, clusterId, forged)).toThrow(/signature does not verify/);
    const signed = signLayout(ca.key, layoutOf(2, [1, 2]));
    const tampered = Uint8Array.from(signed);
    const at = tampered.length - 80; // inside the body
    tampered[at] = (tampered[at] ?? 0) ^ 1;
    expect(() => verifyLayout(ca.cert, clusterId, tampered)).toThrow(
      expect.objectContaining({ code: "E_MESSAGE_INVALID" }),
    );
    expect(() => verifyLayout(ca.cert, otherCluster, signed)).toThrow(/another cluster/);
  });

  it("refuses random bytes with E_MESSAGE_INVALID", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(() => verifyLayout(ca.cert, clusterId, bytes)).toThrow(
          expect.objectContaining({ code: "E_MESSAGE_INVALID" }),
        );
      }),
    );
  });
});

describe("the node's layout keeper", () => {
  const open = async (root: string, known: string[] = [id(1), id(2), id(3), id(4)]) =>
    LayoutKeeper.open({
      root,
      bundleDir: join(root, "bundle"),
      caPem: ca.cert,
      clusterId,
      replication: 3,
      knownNodeIds: () => known,
      log,
    });

  it("follows the members until a layout is signed, then the newest version, kept across a restart", async () => {
    const root = join(dir, "keeper-1");
    const keeper = await open(root);
    expect(keeper.current().version).toBe(1);
    expect(keeper.current().nodes).toHaveLength(4);
    const changes: number[] = [];
    keeper.onChanged = (l) => changes.push(l.version);
    expect(await keeper.accept(signLayout(ca.key, layoutOf(3, [1, 2, 3])))).toBe(true);
    expect(await keeper.accept(signLayout(ca.key, layoutOf(2, [1, 2])))).toBe(false); // older
    expect(changes).toEqual([3]);
    await expect(keeper.accept(signLayout(impostor.key, layoutOf(9, [1])))).rejects.toMatchObject({
      code: "E_MESSAGE_INVALID",
    });
    expect(keeper.current().version).toBe(3);
    expect((await open(root)).current().version).toBe(3);
  });

  it("writes to the homes of both layouts while a change settles, then to the new ones only", async () => {
    const keeper = await open(join(dir, "keeper-2"));
    await keeper.accept(signLayout(ca.key, layoutOf(2, [1, 2, 3, 4])));
    await keeper.accept(signLayout(ca.key, layoutOf(3, [1, 2, 3])));
    const alive = () => true;
    let both = 0;
    for (let n = 0; n < 200; n++) {
      const targets = keeper.writeTargets(chunk(n), alive);
      const before = homesIn(layoutOf(2, [1, 2, 3, 4]), chunk(n), 3);
      expect(targets.slice(0, 3)).toEqual(keeper.homes(chunk(n)));
      for (const home of before) expect(targets).toContain(home);
      if (targets.length > 3) both++;
      expect(keeper.readOrder(chunk(n))).toEqual(expect.arrayContaining(before));
    }
    expect(both).toBeGreaterThan(0);
    expect(keeper.changing()).toBe(true);
    keeper.settled();
    expect(keeper.changing()).toBe(false);
    for (let n = 0; n < 50; n++) expect(keeper.writeTargets(chunk(n), () => true)).toHaveLength(3);
  });

  it("takes a layout from its bundle (cluster add-node) and ignores a forged layout file", async () => {
    const root = join(dir, "keeper-3");
    await open(root); // makes the root
    await mkdir(join(root, "bundle"), { recursive: true });
    await writeFile(join(root, "bundle", "layout"), signLayout(ca.key, layoutOf(5, [1, 2, 3, 9])));
    await writeFile(join(root, "layout"), signLayout(impostor.key, layoutOf(7, [1])));
    const keeper = await open(root);
    expect(keeper.current().version).toBe(5);
    expect(keeper.homes(chunk(1)).every((n) => [id(1), id(2), id(3), id(9)].includes(n))).toBe(true);
  });
});
