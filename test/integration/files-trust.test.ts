// Clients verify everything they read: a hostile node (test/helpers/hostile-node.ts, a real process with
// a valid node certificate) lies as a gateway or pushes a forged catalog entry to a real node, and every
// `dmfs read` either returns the right bytes from an honest copy or fails with exit 5 - never wrong
// bytes with exit 0.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadDataKeyPath } from "../../src/cluster/cluster-dir.ts";
import { pathIdOf } from "../../src/crypto/catalog-crypto.ts";
import { deriveKeys, loadDataKey } from "../../src/crypto/keys.ts";
import {
  type CliResult,
  freePort,
  runCli,
  sha256OfFile,
  TestCluster,
  writeSeededFile,
} from "../helpers/cluster-harness.ts";
import { killHostiles, pushSwappedEntry, startHostile } from "../helpers/hostile-launcher.ts";

// Two files of the same size, so a swapped entry cannot be told by its size.
const SIZE = 2 * 1024 * 1024 + 5;

let cluster: TestCluster;
let realId: string;
const sha: Record<string, string> = {};

async function hostileGateway(mode: string): Promise<string> {
  const addr = `127.0.0.1:${await freePort()}`;
  await startHostile(cluster, {
    cert: "node-1",
    target: 0,
    args: ["gateway", mode, addr],
    ready: "listening",
  });
  return addr;
}

function readVia(addr: string, what: string, out?: string): Promise<CliResult> {
  return runCli(["read", what, ...(out ? ["-o", out] : []), "--node", addr, "--cluster", cluster.clusterDir]);
}

beforeAll(async () => {
  // Two certificates; only node 0 runs as a real node, node-1's certificate is the hostile node's.
  cluster = await TestCluster.create([{}, {}], { replication: 1, writeQuorum: 1 });
  await cluster.start(0);
  realId = (await cluster.status(0)).nodeId;
  for (const name of ["a.bin", "b.bin"]) {
    const input = join(cluster.dir, name);
    await writeSeededFile(input, name, SIZE);
    sha[name] = await sha256OfFile(input);
    expect((await cluster.runCli(["upload", input, "--path", name])).code).toBe(0);
  }
});

afterEach(killHostiles);

afterAll(async () => {
  await cluster?.stop();
});

// Each test runs up to a dozen `dmfs` processes one after another, seconds each on a loaded machine.
describe("a read through a lying gateway", { timeout: 120_000 }, () => {
  it("routes around copies with a flipped byte and returns the right bytes", async () => {
    const gateway = await hostileGateway("flip");
    const out = join(cluster.dir, "flip.out");
    const toFile = await readVia(gateway, "a.bin", out);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(await sha256OfFile(out)).toBe(sha["a.bin"]);
    const other = join(cluster.dir, "flip-b.out");
    expect((await readVia(gateway, "b.bin", other)).code).toBe(0);
    expect(await sha256OfFile(other)).toBe(sha["b.bin"]);
  });

  it("routes around another file's manifest and returns the right bytes", async () => {
    const gateway = await hostileGateway("other-manifest");
    const out = join(cluster.dir, "other.out");
    const result = await readVia(gateway, "a.bin", out);
    expect(result.code, result.stderr).toBe(0);
    expect(await sha256OfFile(out)).toBe(sha["a.bin"]);
  });

  it("fails with exit 5 naming the node when no honest copy comes through, and writes no file", async () => {
    const gateway = await hostileGateway("liar");
    const out = join(cluster.dir, "liar.out");
    const before = await readdir(cluster.dir);
    const result = await readVia(gateway, "a.bin", out);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/^dmfs: manifest [0-9a-f]{16} did not verify/);
    expect(result.stderr).toContain(`node ${realId.slice(0, 8)}`);
    expect(existsSync(out)).toBe(false);
    expect(await readdir(cluster.dir)).toEqual(before); // no partial file left behind
    const toStdout = await readVia(gateway, "b.bin");
    expect(toStdout.code).toBe(5);
    expect(toStdout.stdout).toBe("");
  });
});

describe("a forged catalog entry pushed to a real node", { timeout: 120_000 }, () => {
  it("is refused by read and stat (exit 5) and left out of ls (exit 9); a new upload repairs it", async () => {
    const keys = deriveKeys(await loadDataKey(loadDataKeyPath(cluster.clusterDir)));
    const [a, b] = [pathIdOf(keys, "a.bin"), pathIdOf(keys, "b.bin")];
    await pushSwappedEntry(cluster, { cert: "node-1", target: 0, victim: a, donor: b });

    const read = await cluster.runCli(["read", "a.bin"]);
    expect(read.code, read.stderr).toBe(5);
    expect(read.stdout).toBe(""); // checked before a byte is written
    expect(read.stderr).toContain("does not match its sealed metadata");
    expect(read.stderr).toContain(`served by node ${realId.slice(0, 8)}`);
    expect((await cluster.runCli(["stat", "a.bin"])).code).toBe(5);
    expect((await cluster.runCli(["delete", "a.bin"])).code).toBe(5);

    const ls = await cluster.runCli(["ls", "--json"]);
    expect(ls.code).toBe(9);
    expect(JSON.parse(ls.stdout).map((f: { path: string }) => f.path)).toEqual(["b.bin"]);
    expect(ls.stderr).toContain(`left out entry ${a}`);
    const other = await cluster.runCli(["read", "b.bin"]);
    expect(other.code).toBe(0);

    // Uploading the file again writes a newer, honest entry.
    const input = join(cluster.dir, "a.bin");
    expect((await cluster.runCli(["upload", input, "--path", "a.bin"])).code).toBe(0);
    const out = join(cluster.dir, "a.again");
    expect((await cluster.runCli(["read", "a.bin", "-o", out])).code).toBe(0);
    expect(await sha256OfFile(out)).toBe(sha["a.bin"]);
    expect((await cluster.runCli(["ls"])).code).toBe(0);
    expect((await readFile(out)).length).toBe(SIZE);
  });
});
