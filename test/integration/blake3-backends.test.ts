// Which BLAKE3 backend each real node hashes with, and that a node whose native binary does not load
// still verifies and serves chunks with the wasm fallback: three nodes (native; native binary made
// unloadable; DMFS_BLAKE3=wasm), every chunk stored and verified on all three, `dmfs status` naming
// each node's backend.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNK_SIZE,
  CLI,
  freePort,
  runCli,
  seededBytes,
  seededStream,
  TestCluster,
} from "../helpers/cluster-harness.ts";

const HIDE_NATIVE = new URL("../helpers/hide-native-blake3.cjs", import.meta.url).pathname;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create(
    [
      { join: [], env: { DMFS_BLAKE3: "" } },
      // Its platform binaries unresolvable, in every thread: the real native load fails.
      {
        join: [0],
        env: { DMFS_BLAKE3: "", NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${HIDE_NATIVE}` },
      },
      { join: [0, 1], env: { DMFS_BLAKE3: "wasm" } },
    ],
    { replication: 3, writeQuorum: 3 },
  );
  await cluster.startAll();
  await cluster.waitForMesh();
});

afterAll(async () => {
  await cluster?.stop();
});

describe("BLAKE3 backends on real nodes", () => {
  it("reports each node's backend in `dmfs status`, as JSON and as a column", async () => {
    const access = ["--node", cluster.addrs[0] as string, "--cluster", cluster.clusterDir];
    const json = await runCli(["status", "--json", ...access]);
    expect(json.code, json.stderr).toBe(0);
    const status = JSON.parse(json.stdout) as { nodes: { address: string; blake3: string | null }[] };
    const byAddress = Object.fromEntries(status.nodes.map((n) => [n.address, n.blake3]));
    expect(byAddress).toEqual({
      [cluster.addrs[0] as string]: "native",
      [cluster.addrs[1] as string]: "wasm",
      [cluster.addrs[2] as string]: "wasm",
    });

    const text = await runCli(["status", ...access]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("BLAKE3");
    const rows = text.stdout.split("\n").filter((line) => !line.startsWith("cluster "));
    const rowOf = (addr: string) => rows.find((line) => line.includes(addr)) ?? "";
    expect(rowOf(cluster.addrs[0] as string)).toMatch(/native\s*$/);
    expect(rowOf(cluster.addrs[1] as string)).toMatch(/wasm\s*$/);
  });

  it("stores and serves a file through the node whose native binary did not load", async () => {
    const size = 3 * CHUNK_SIZE + 5;
    // W=3: every chunk is verified (hashed) and fsynced on all three nodes before the upload returns.
    const uploaded = await (await cluster.files(1)).upload(
      seededStream("fallback", size),
      "fallback.bin",
      1_000,
    );
    expect(uploaded).toMatchObject({ size, chunks: 4 });
    for (const gateway of [1, 2, 0]) {
      const pieces: Buffer[] = [];
      const out = new Writable({
        write(piece: Buffer, _encoding, done) {
          pieces.push(Buffer.from(piece));
          done();
        },
      });
      await (await cluster.files(gateway)).read("fallback.bin", out);
      expect(Buffer.concat(pieces).equals(await seededBytes("fallback", size)), `via node ${gateway}`).toBe(
        true,
      );
    }
  });

  it("refuses to start a node with an unknown DMFS_BLAKE3, naming the variable", async () => {
    const proc = spawn(
      process.execPath,
      [
        CLI,
        "node",
        "--listen",
        `127.0.0.1:${await freePort()}`,
        "--root",
        join(cluster.dir, "bad-backend"),
        "--bundle",
        cluster.bundleDir(0),
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DMFS_BLAKE3: "fastest" } },
    );
    let stderr = "";
    proc.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    // A node that started anyway would never exit by itself: it is killed, and the test fails below.
    const killer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    clearTimeout(killer);
    expect(code).toBeGreaterThan(0);
    expect(stderr).toContain("DMFS_BLAKE3 must be one of native, wasm, noble");
  });
});
