// A cluster for the end-to-end suite: a cluster directory made by the real `initCluster` under a work
// directory, `dmfs node` processes started from the build in dist/ on free 127.0.0.1 ports, a FileClient
// to any of them, and a stop that ends every process it started, also after a failure.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { FileClient, type FileClientOptions } from "../src/client/file-client.ts";
import { NodeClient } from "../src/client/node-client.ts";
import { initCluster, loadDataKeyPath, loadIdentity } from "../src/cluster/cluster-dir.ts";
import { type DataKeys, deriveKeys, loadDataKey } from "../src/crypto/keys.ts";
import { DmfsError } from "../src/errors.ts";
import type { NodeStatus } from "../src/protocol/messages.ts";
import type { CryptoPool } from "../src/workers/crypto-pool.ts";

export const CHUNK_SIZE = 1024 * 1024;
export const DIST_CLI = resolve(import.meta.dirname, "../dist/cli/main.js");

const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 8_000;
const OUTPUT_LINES_KEPT = 200;
/** Extra Node.js options for the node processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them. */
const NODE_ARGS_VARIABLE = "DMFS_BENCH_NODE_ARGS";

export interface Placement {
  replication: number;
  writeQuorum: number;
}

export interface BenchNode {
  name: string;
  addr: string;
  proc: ChildProcess;
  /** performance.now() when the node said it listens, which is also when its repair timer started. */
  listeningAt: number;
  /** Its last lines of output, for the error when it dies. */
  output: string[];
}

/** Fails with a clear sentence unless the build the nodes run from (`cli`) exists. */
export function requireBuild(cli = DIST_CLI): void {
  if (!existsSync(cli)) {
    throw new DmfsError(
      "E_NOT_FOUND",
      `${cli} is missing: build first with \`npx tsc -p tsconfig.build.json\` (or \`npm run build\`).`,
      { subject: cli },
    );
  }
}

export class BenchCluster {
  readonly nodes: BenchNode[] = [];
  readonly #clients: NodeClient[] = [];
  /** One connection per node for status requests, so polling does not cost a TLS handshake each time. */
  readonly #statusClients = new Map<number, NodeClient>();

  private constructor(
    readonly dir: string,
    readonly placement: Placement,
    private readonly keys: DataKeys,
  ) {}

  /** Writes a cluster directory with `certificates` node certificates under `dir`; starts nothing. */
  static async create(dir: string, certificates: number, placement: Placement): Promise<BenchCluster> {
    requireBuild();
    await initCluster({ dir: join(dir, "cluster"), nodes: certificates });
    const keys = deriveKeys(await loadDataKey(loadDataKeyPath(join(dir, "cluster"))));
    return new BenchCluster(dir, placement, keys);
  }

  get clusterDir(): string {
    return join(this.dir, "cluster");
  }

  /** Starts the next node (node-<n>), bootstrapping from the nodes already running, and waits until it listens. */
  async startNode(): Promise<BenchNode> {
    const name = `node-${this.nodes.length}`;
    const addr = `${HOST}:${await freePort()}`;
    const joins = this.nodes.flatMap((n) => ["--join", n.addr]);
    const args = [
      ...(process.env[NODE_ARGS_VARIABLE] ?? "").split(/\s+/).filter(Boolean),
      DIST_CLI,
      "node",
      "--listen",
      addr,
      "--root",
      join(this.dir, name),
      "--bundle",
      join(this.clusterDir, "nodes", name),
      "--chunk-size",
      String(CHUNK_SIZE),
      "--replication",
      String(this.placement.replication),
      "--write-quorum",
      String(this.placement.writeQuorum),
      "--log-level",
      "info",
      ...joins,
    ];
    const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const node: BenchNode = { name, addr, proc, listeningAt: Number.NaN, output: [] };
    this.nodes.push(node);
    const listening = new Promise<void>((resolveListening, reject) => {
      const timer = setTimeout(
        () => reject(this.#died(node, `did not listen within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const collect = (data: Buffer) => {
        for (const line of data.toString().split("\n")) {
          if (line === "") continue;
          node.output.push(line);
          if (node.output.length > OUTPUT_LINES_KEPT) node.output.shift();
          if (Number.isNaN(node.listeningAt) && line.includes('"node listening"')) {
            node.listeningAt = performance.now();
            clearTimeout(timer);
            resolveListening();
          }
        }
      };
      proc.stdout?.on("data", collect);
      proc.stderr?.on("data", collect);
      proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(this.#died(node, `exited (${signal ?? `code ${code}`}) before it listened`));
      });
    });
    await listening;
    return node;
  }

  /** Waits until every running node sees every other one alive. */
  async waitForFullMesh(timeoutMs = 20_000): Promise<void> {
    const others = this.nodes.length - 1;
    await pollUntil(`a full mesh of ${this.nodes.length} nodes`, timeoutMs, async () => {
      const statuses = await Promise.all(this.nodes.map((_, i) => this.status(i)));
      return statuses.every((s) => s.members.filter((m) => m.state === "alive").length >= others);
    });
  }

  /**
   * Signs a layout of the nodes running now with the real `dmfs cluster layout apply` (through node 0),
   * so a node started afterwards is a member outside the layout: it owns no data and never will, as a
   * node that only serves clients. Resolves with the version once every node running took it.
   */
  async signLayout(): Promise<number> {
    const first = this.nodes[0];
    if (!first) throw new DmfsError("E_USAGE", "The bench cluster has no node to sign a layout through.");
    const { stdout } = await promisify(execFile)(process.execPath, [
      DIST_CLI,
      "cluster",
      "layout",
      "apply",
      "--node",
      first.addr,
      "--cluster",
      this.clusterDir,
      "--json",
    ]);
    const applied = JSON.parse(stdout) as { version: number; nodes: string[] };
    if (applied.nodes.length !== this.nodes.length) {
      throw new DmfsError(
        "E_UNREACHABLE",
        `Layout version ${applied.version} was taken by ${applied.nodes.length} of ${this.nodes.length} nodes.`,
      );
    }
    return applied.version;
  }

  /**
   * Waits until node `i` follows a signed layout and has settled on it: a node started after `signLayout`
   * learns it from its peers' gossip a moment after it joins, and until its first repair pass settles it,
   * it also writes to the homes of the layout before - the implicit one over its members, itself included.
   */
  async waitForSignedLayout(i: number, timeoutMs = 20_000): Promise<void> {
    await pollUntil(`node ${i} to follow the signed layout`, timeoutMs, async () => {
      let client = this.#statusClients.get(i);
      if (client === undefined || client.closed) {
        client = await this.#connect(i);
        this.#statusClients.set(i, client);
      }
      const reply = await client.request({ t: "layout.get" }, "layout.reply");
      return reply.layout !== null && !reply.changing;
    });
  }

  /** A client whose gateway is node `i` (another chunk size or index fan-out when given); closed by `stop`. */
  async fileClient(
    i: number,
    pool: CryptoPool,
    options: FileClientOptions & { chunkSize?: number } = {},
  ): Promise<FileClient> {
    return new FileClient(await this.#connect(i), pool, this.keys, options.chunkSize ?? CHUNK_SIZE, options);
  }

  async status(i: number): Promise<NodeStatus> {
    let client = this.#statusClients.get(i);
    if (client === undefined || client.closed) {
      client = await this.#connect(i);
      this.#statusClients.set(i, client);
    }
    return client.status();
  }

  /** Stops every node (SIGTERM, then SIGKILL when one does not go) and closes every client. */
  async stop(): Promise<void> {
    for (const client of this.#clients) client.close();
    await Promise.all(this.nodes.map((node) => stopProcess(node.proc)));
  }

  async #connect(i: number): Promise<NodeClient> {
    const node = this.nodes[i];
    if (!node) throw new DmfsError("E_USAGE", `The bench cluster has no node ${i}.`);
    const identity = await loadIdentity(this.clusterDir, "client");
    const client = await NodeClient.connect([node.addr], { identity, chunkSize: CHUNK_SIZE });
    this.#clients.push(client);
    return client;
  }

  #died(node: BenchNode, what: string): DmfsError {
    return new DmfsError(
      "E_UNREACHABLE",
      `Bench node ${node.name} at ${node.addr} ${what}; its last output:\n${node.output.slice(-10).join("\n")}`,
      { subject: node.addr },
    );
  }
}

/** Polls `check` every 100 ms until it is true; fails naming `what` after `timeoutMs`. */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new DmfsError("E_TIMEOUT", `Timed out after ${timeoutMs} ms waiting for ${what}${why}.`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, "listening");
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (typeof address !== "object" || address === null) {
    throw new DmfsError("E_UNREACHABLE", `Could not find a free port on ${HOST}.`);
  }
  return address.port;
}

/** Ends a child process: SIGTERM, SIGKILL after a grace period; resolves once it has exited. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
