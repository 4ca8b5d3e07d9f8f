// Three nodes, each in its own network namespace, joined through a bridge by veth links (iproute2,
// as root). Taking one node's link down makes it and the others see each other go down; bringing it up
// heals the mesh. Deployed as docs/deploy.md says: the admin bundle stays with the admin (here: the
// `dmfs status` runs), each node's "machine" gets only a copy of its own node bundle.
// Where namespaces cannot be made, the test is skipped with the reason printed.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initCluster } from "../../src/cluster/cluster-dir.ts";
import { CLI, waitFor } from "../helpers/cluster-harness.ts";

const tag = `d${process.pid % 100000}`;
const HUB = `${tag}-hub`;
const NS = [0, 1, 2].map((i) => `${tag}-n${i}`);
const IPS = ["10.231.0.1", "10.231.0.2", "10.231.0.3"];
const PORT = 7400;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

function probe(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root";
  try {
    execFileSync("ip", ["-V"], { stdio: "pipe" });
  } catch {
    return "iproute2 (the ip command) is not installed";
  }
  try {
    ip("netns", "add", `${tag}-probe`);
    ip("netns", "del", `${tag}-probe`);
  } catch (err) {
    return `ip netns add failed: ${(err as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

const skipReason = probe();
if (skipReason) console.warn(`SKIPPED network-namespace mesh test: ${skipReason}`);

let dir: string;
const procs: ChildProcess[] = [];

function buildNetwork(): void {
  ip("netns", "add", HUB);
  ip("-n", HUB, "link", "add", "br0", "type", "bridge");
  ip("-n", HUB, "link", "set", "br0", "up");
  NS.forEach((ns, i) => {
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
    ip(
      "link",
      "add",
      `${tag}v${i}`,
      "netns",
      ns,
      "type",
      "veth",
      "peer",
      "name",
      `${tag}h${i}`,
      "netns",
      HUB,
    );
    ip("-n", ns, "addr", "add", `${IPS[i]}/24`, "dev", `${tag}v${i}`);
    ip("-n", ns, "link", "set", `${tag}v${i}`, "up");
    ip("-n", HUB, "link", "set", `${tag}h${i}`, "master", "br0");
    ip("-n", HUB, "link", "set", `${tag}h${i}`, "up");
  });
}

function tearDownNetwork(): void {
  for (const ns of [...NS, HUB]) {
    try {
      ip("netns", "del", ns);
    } catch {
      // already gone
    }
  }
}

/** `dmfs status --json` run inside node i's namespace, against node i. */
function peerStates(i: number): Record<string, string> {
  const out = execFileSync(
    "ip",
    [
      "netns",
      "exec",
      NS[i] as string,
      process.execPath,
      CLI,
      "status",
      "--json",
      "--node",
      `${IPS[i]}:${PORT}`,
      "--cluster",
      join(dir, "admin"),
    ],
    { stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 },
  ).toString();
  const s = JSON.parse(out) as { nodes: { address: string; state: string }[] };
  return Object.fromEntries(
    s.nodes.filter((n) => n.address !== `${IPS[i]}:${PORT}`).map((n) => [n.address, n.state]),
  );
}

function machineBundle(i: number): string {
  return join(dir, `machine-${i}`, "etc-dmfs");
}

describe.skipIf(skipReason !== undefined)("a mesh across network namespaces", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "dmfs-netns-"));
    const admin = join(dir, "admin");
    await initCluster({ dir: admin, nodes: 3 });
    // Each machine gets its own bundle and nothing else; the admin keeps no copy of the node keys.
    for (const i of [0, 1, 2]) {
      await cp(join(admin, "nodes", `node-${i}`), machineBundle(i), { recursive: true });
    }
    await rm(join(admin, "nodes"), { recursive: true });
    buildNetwork();
    NS.forEach((ns, i) => {
      const joins = i === 0 ? [] : ["--join", `${IPS[0]}:${PORT}`];
      const args = ["netns", "exec", ns, process.execPath, CLI, "node", "--listen", `${IPS[i]}:${PORT}`];
      args.push("--root", join(dir, `machine-${i}`, "data"), "--bundle", machineBundle(i), ...joins);
      procs.push(spawn("ip", args, { stdio: "ignore" }));
    });
  });

  afterAll(async () => {
    for (const p of procs) p.kill("SIGKILL");
    tearDownNetwork();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("gives each machine only the CA certificate and its own certificate and key", async () => {
    for (const i of [0, 1, 2]) {
      expect((await readdir(machineBundle(i))).sort()).toEqual([
        "ca.crt",
        "cluster.json",
        "node.crt",
        "node.key",
      ]);
      expect(existsSync(join(dir, `machine-${i}`, "data.key"))).toBe(false);
    }
  });

  it("sees a node go down on both sides when its link goes down, and come back when it comes up", async () => {
    const others = (i: number) => IPS.filter((_, j) => j !== i).map((a) => `${a}:${PORT}`);
    for (const i of [0, 1, 2]) {
      await waitFor(
        `node ${i} to see both peers alive`,
        () => {
          const s = peerStates(i);
          return others(i).every((a) => s[a] === "alive");
        },
        20_000,
      );
    }

    ip("-n", NS[2] as string, "link", "set", `${tag}v2`, "down");
    const isolated = `${IPS[2]}:${PORT}`;
    for (const i of [0, 1]) {
      await waitFor(`node ${i} to see node 2 down`, () => peerStates(i)[isolated] === "down", 15_000);
    }
    await waitFor(
      "node 2 to see both others down",
      () => {
        const s = peerStates(2);
        return others(2).every((a) => s[a] === "down");
      },
      15_000,
    );

    ip("-n", NS[2] as string, "link", "set", `${tag}v2`, "up");
    for (const i of [0, 1, 2]) {
      await waitFor(
        `node ${i} to see both peers alive again`,
        () => {
          const s = peerStates(i);
          return others(i).every((a) => s[a] === "alive");
        },
        20_000,
      );
    }
    expect(peerStates(0)[isolated]).toBe("alive");
  }, 120_000);
});
