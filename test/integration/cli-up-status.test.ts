// The demo as a user runs it: `dmfs init` and `dmfs up` on the demo config, then `dmfs status --json`
// and an upload from another process; Ctrl-C (SIGINT) on `dmfs up` stops every node. Afterwards no node's
// bundle or root holds a byte string of the data key or the CA key.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, REPO, waitFor } from "../helpers/cluster-harness.ts";
import { adminSecrets, findSecrets } from "../helpers/secret-scan.ts";

const run = promisify(execFile);
let dir: string | undefined;
let up: ChildProcess | undefined;

afterAll(async () => {
  // `up` leads its own process group: killing the group takes its nodes down with it, even on failure.
  if (up?.pid && up.exitCode === null) process.kill(-up.pid, "SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("dmfs up and dmfs status", () => {
  it("runs the demo config's three nodes and reports them all alive in JSON", async () => {
    dir = await mkdtemp(join(tmpdir(), "dmfs-demo-"));
    const config = join(dir, "config.yaml");
    await copyFile(join(REPO, "demo/config.yaml"), config);
    await run(process.execPath, [CLI, "init", "--config", config]);

    up = spawn(process.execPath, [CLI, "up", "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const lines: string[] = [];
    up.stdout?.on("data", (b: Buffer) => lines.push(...b.toString().split("\n")));

    const status = await waitFor(
      "all three demo nodes alive",
      async () => {
        const { stdout } = await run(process.execPath, [CLI, "status", "--config", config, "--json"]);
        const s = JSON.parse(stdout) as { clusterId: string; nodes: { state: string; address: string }[] };
        return s.nodes.length === 3 && s.nodes.every((n) => n.state === "alive") ? s : undefined;
      },
      30_000,
    );
    if (!status) throw new Error("unreachable: waitFor returns only a found status");
    expect(status.nodes.map((n) => n.address).sort()).toEqual([
      "127.0.0.1:8000",
      "127.0.0.1:8001",
      "127.0.0.1:8002",
    ]);
    expect(status.clusterId).toMatch(/^[0-9a-f]{32}$/);
    // Each line of a node's log carries its prefix.
    expect(lines.some((l) => l.startsWith("[node-1 127.0.0.1:8001]"))).toBe(true);

    const sample = join(dir, "notes.txt");
    await writeFile(sample, "minutes of the board meeting\n".repeat(1000));
    await run(process.execPath, [CLI, "upload", sample, "--path", "board/notes.txt", "--config", config]);
    const { stdout: back } = await run(process.execPath, [
      CLI,
      "read",
      "board/notes.txt",
      "--config",
      config,
    ]);
    expect(back).toBe("minutes of the board meeting\n".repeat(1000));
    const nodeDirs = [0, 1, 2].flatMap((i) => [
      join(dir as string, "cluster", "nodes", `node-${i}`),
      join(dir as string, "data", `server${i}`),
    ]);
    const scan = await findSecrets(nodeDirs, await adminSecrets(join(dir, "cluster")));
    expect(scan.found).toEqual([]);
    expect(scan.files.filter((f) => f.endsWith("node.key"))).toHaveLength(3);

    const exited = new Promise<number | null>((r) => up?.once("exit", (code) => r(code)));
    up.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 90_000);
});
