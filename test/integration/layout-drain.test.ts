// `dmfs node drain` on real nodes: 4 nodes with R=3 while 4 upload loops and a reader run. The drained
// node must end with no chunk and outside the layout, every acknowledged upload must read back, and no
// read may fail on the way.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededBytes, seededStream, TestCluster } from "../helpers/cluster-harness.ts";

const LOOPS = 4;
const UPLOADS_PER_LOOP = 6;
const DRAINED = 3;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create(
    [0, 1, 2, 3].map((i) => ({ join: i === 0 ? [] : [0] })),
    { replication: 3, writeQuorum: 2 },
  );
  await cluster.startAll();
  await cluster.waitForMesh(20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const sizeOf = (loop: number, n: number) => 20_000 + ((loop * 7 + n * 3) % 9) * 150_000;

describe("dmfs node drain", () => {
  it("moves every copy off a live node during uploads and reads, then leaves it outside the layout", async () => {
    // Something on the node to move before the uploads start.
    const first = await cluster.files(0);
    for (let n = 0; n < 6; n++)
      await first.upload(seededStream(`before-${n}`, 400_000 + n), `before/${n}.bin`, 0);
    expect((await cluster.status(DRAINED)).store.chunks).toBeGreaterThan(0);

    const acknowledged: { path: string; seed: string; size: number }[] = [];
    const failures: string[] = [];
    let stop = false;
    const loops = Array.from({ length: LOOPS }, async (_, loop) => {
      const files = await cluster.files(loop % 3); // never through the node being drained
      for (let n = 0; n < UPLOADS_PER_LOOP && !stop; n++) {
        const path = `loop-${loop}/${n}.bin`;
        const seed = `drain-${loop}-${n}`;
        await files.upload(seededStream(seed, sizeOf(loop, n)), path, 0);
        acknowledged.push({ path, seed, size: sizeOf(loop, n) });
      }
    });
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        for (let n = 0; n < 6 && !stop; n++) {
          try {
            const back = await cluster.readBack(`before/${n}.bin`, 1);
            if (!back.equals(await seededBytes(`before-${n}`, 400_000 + n)))
              failures.push(`before/${n}.bin differs`);
            reads++;
          } catch (err) {
            failures.push(`before/${n}.bin: ${(err as Error).message}`);
          }
        }
      }
    })();

    const drainedAt = Date.now();
    const drain = await cluster.runCli(["node", "drain", "node-3", "--timeout", "90", "--json"], {
      gateway: 0,
      timeoutMs: 120_000,
    });
    const drainMs = Date.now() - drainedAt;
    await Promise.all(loops);
    stop = true;
    await reader;
    expect(drain.stderr).toBe("");
    expect(drain.code).toBe(0);
    expect(JSON.parse(drain.stdout)).toMatchObject({ version: 2 });

    const shown = JSON.parse(
      (await cluster.runCli(["cluster", "layout", "--json"], { gateway: 1 })).stdout,
    ) as {
      nodes: { name: string | null }[];
      outside: { state: string }[];
    };
    expect(shown.nodes.map((n) => n.name).sort()).toEqual(["node-0", "node-1", "node-2"]);
    expect(shown.outside).toEqual([expect.objectContaining({ state: "alive" })]);
    expect((await cluster.status(DRAINED)).store.chunks).toBe(0);
    for (const { path, seed, size } of acknowledged) {
      const back = await cluster.readBack(path, 2);
      expect(back.equals(await seededBytes(seed, size)), path).toBe(true);
    }
    console.log(
      `drain took ${drainMs} ms; ${acknowledged.length} uploads acknowledged and read back; ${reads} reads during it, ${failures.length} failed`,
    );
    expect(failures).toEqual([]);
    expect(acknowledged).toHaveLength(LOOPS * UPLOADS_PER_LOOP);
  }, 240_000);
});
