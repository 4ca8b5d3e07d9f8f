// One harness for every integration test that needs real nodes: a temp cluster directory made by the
// real `initCluster`, node processes started from the build (dist/, which `npm test` builds first),
// free ports, and a teardown that kills every child even when the test failed.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { NodeClient } from "../../src/client/node-client.ts";
import { initCluster, loadIdentity } from "../../src/cluster/cluster-dir.ts";
import type { NodeStatus } from "../../src/protocol/messages.ts";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");
export const CHUNK_SIZE = 1024 * 1024;

export interface NodeSpec {
  host?: string;
  /** Bootstrap peers by index into the cluster's nodes. */
  join?: number[];
  extraArgs?: string[];
}

export interface RunningTestNode {
  index: number;
  addr: string;
  root: string;
  proc: ChildProcess;
  output: string[];
}

/** Polls `check` until it returns a truthy value or the deadline passes; fails with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr ? resolvePort(addr.port) : reject(new Error("no port")),
      );
    });
  });
}

export class TestCluster {
  readonly nodes: (RunningTestNode | undefined)[] = [];
  readonly addrs: string[] = [];
  private readonly clients: NodeClient[] = [];

  private constructor(
    readonly dir: string,
    readonly clusterDir: string,
    readonly specs: NodeSpec[],
  ) {}

  /** Makes the cluster directory and picks an address per node; starts nothing yet. */
  static async create(specs: NodeSpec[]): Promise<TestCluster> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does) first`);
    const dir = await mkdtemp(join(tmpdir(), "dmfs-test-"));
    const clusterDir = join(dir, "cluster");
    await initCluster({ dir: clusterDir, nodes: specs.length });
    const cluster = new TestCluster(dir, clusterDir, specs);
    for (const spec of specs) {
      const host = spec.host ?? "127.0.0.1";
      cluster.addrs.push(`${host}:${await freePort(host)}`);
    }
    return cluster;
  }

  /** Starts node `i` with the bootstrap list of its spec (or `join` given here) and waits until it listens. */
  async start(i: number, opts: { join?: number[]; extraArgs?: string[] } = {}): Promise<RunningTestNode> {
    const spec = this.specs[i] ?? {};
    const root = join(this.dir, `node-${i}`);
    const joins = (opts.join ?? spec.join ?? []).flatMap((j) => ["--join", this.addrs[j] as string]);
    const args = [
      CLI,
      "node",
      "--listen",
      this.addrs[i] as string,
      "--root",
      root,
      "--cluster",
      this.clusterDir,
      "--cert",
      `node-${i}`,
      "--log-level",
      "info",
      ...joins,
      ...(spec.extraArgs ?? []),
      ...(opts.extraArgs ?? []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const output: string[] = [];
    const node: RunningTestNode = { index: i, addr: this.addrs[i] as string, root, proc, output };
    const collect = (b: Buffer) => output.push(...b.toString().split("\n").filter(Boolean));
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    this.nodes[i] = node;
    await waitFor(`node ${i} to listen on ${node.addr}`, () => {
      if (proc.exitCode !== null) throw new Error(`node ${i} exited: ${output.slice(-5).join("\n")}`);
      return output.some((l) => l.includes('"node listening"'));
    });
    return node;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.specs.map((_, i) => this.start(i)));
  }

  /** SIGKILLs node `i` and waits until the process is gone. */
  async kill(i: number): Promise<void> {
    const node = this.nodes[i];
    if (!node || node.proc.exitCode !== null || node.proc.signalCode !== null) return;
    const gone = new Promise((r) => node.proc.once("exit", r));
    node.proc.kill("SIGKILL");
    await gone;
  }

  async client(i: number): Promise<NodeClient> {
    const identity = await loadIdentity(this.clusterDir, "client");
    const c = await NodeClient.connect([this.addrs[i] as string], { identity, chunkSize: CHUNK_SIZE });
    this.clients.push(c);
    return c;
  }

  /** Node i's status, over a fresh client connection. */
  async status(i: number): Promise<NodeStatus> {
    const c = await this.client(i);
    try {
      return await c.status();
    } finally {
      c.close();
    }
  }

  /** The states node i reports for its peers, by address. */
  async peerStates(i: number): Promise<Record<string, string>> {
    const s = await this.status(i);
    return Object.fromEntries(s.members.filter((m) => m.state !== "self").map((m) => [m.addr, m.state]));
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.nodes.map((_, i) => this.kill(i)));
    await rm(this.dir, { recursive: true, force: true });
  }
}
