// One harness for every integration test that needs real nodes: a temp admin bundle and node bundles made
// by the real `initCluster` (each node started from its own bundle only), node processes started from the build (dist/, which `npm test` builds first),
// free ports, and a teardown that kills every child even when the test failed. File tests get FileClients
// and `dmfs` runs against any node, and seeded pseudo-random data that streams without filling memory.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { expect } from "vitest";
import { FileClient, type FileClientOptions } from "../../src/client/file-client.ts";
import { ListingIndex } from "../../src/client/listing-index.ts";
import { NodeClient } from "../../src/client/node-client.ts";
import { initCluster, loadDataKeyPath, loadIdentity } from "../../src/cluster/cluster-dir.ts";
import { deriveKeys, loadDataKey } from "../../src/crypto/keys.ts";
import type { NodeStatus } from "../../src/protocol/messages.ts";
import { CryptoPool } from "../../src/workers/crypto-pool.ts";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");
export const CHUNK_SIZE = 1024 * 1024;
const NODE_START_TIMEOUT_MS = 30_000;

export interface NodeSpec {
  host?: string;
  /** Bootstrap peers by index into the cluster's nodes. */
  join?: number[];
  extraArgs?: string[];
  /** Environment variables set for this node's process on top of the test's own. */
  env?: Record<string, string>;
}

/** Settings every node of a cluster starts with (`dmfs node --replication R --write-quorum W`). */
export interface ClusterOptions {
  replication?: number;
  writeQuorum?: number;
}

/** What one `dmfs` command run did. */
export interface CliResult {
  code: number | null;
  stdout: string;
  /** Standard output as bytes, for binary output that `stdout` (UTF-8) would mangle. */
  stdoutBytes: Buffer;
  stderr: string;
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

/** A memory figure of a running process from /proc/PID/status, in bytes (VmRSS now, VmHWM its peak). */
export function processMemory(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
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
  /** Bundles of nodes added after init (`cluster add-node`), by index. */
  private readonly bundles: string[] = [];
  /** Node roots that are tmpfs mounts made by `mountTmpfs`, unmounted by `stop`. */
  private readonly mounts: string[] = [];
  private pool: CryptoPool | undefined;

  private constructor(
    readonly dir: string,
    readonly clusterDir: string,
    readonly specs: NodeSpec[],
    readonly options: ClusterOptions,
  ) {}

  /** Makes the cluster directory and picks an address per node; starts nothing yet. */
  static async create(specs: NodeSpec[], options: ClusterOptions = {}): Promise<TestCluster> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does) first`);
    const dir = await mkdtemp(join(tmpdir(), "dmfs-test-"));
    const clusterDir = join(dir, "cluster");
    await initCluster({ dir: clusterDir, nodes: specs.length });
    const cluster = new TestCluster(dir, clusterDir, specs, options);
    for (const spec of specs) {
      const host = spec.host ?? "127.0.0.1";
      cluster.addrs.push(`${host}:${await freePort(host)}`);
    }
    return cluster;
  }

  /**
   * A cluster made from a stored one: `fixture` holds `cluster/` and a root `node-<i>/` per node, which
   * are copied (keys set to mode 0600, which git does not keep) so the test may change them. A fixture
   * from before node bundles keeps node certificates as `cluster/nodes/node-<i>.crt/.key`: each is given
   * its bundle, as an operator would copy them (`ca.crt`, `node.crt`, `node.key`, `cluster.json`).
   */
  static async fromFixture(
    fixture: string,
    specs: NodeSpec[],
    options: ClusterOptions = {},
  ): Promise<TestCluster> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does) first`);
    const dir = await mkdtemp(join(tmpdir(), "dmfs-test-"));
    await cp(fixture, dir, { recursive: true });
    for (const file of await readdir(join(dir, "cluster"), { recursive: true })) {
      if (file.endsWith(".key")) await chmod(join(dir, "cluster", file), 0o600);
    }
    for (const file of await readdir(join(dir, "cluster", "nodes"))) {
      if (file.endsWith(".crt")) await legacyNodeBundle(join(dir, "cluster"), file.slice(0, -".crt".length));
    }
    const cluster = new TestCluster(dir, join(dir, "cluster"), specs, options);
    for (const spec of specs) {
      const host = spec.host ?? "127.0.0.1";
      cluster.addrs.push(`${host}:${await freePort(host)}`);
    }
    return cluster;
  }

  /** The node bundle node `i` starts from: `<clusterDir>/nodes/node-<i>`, or the one given to `addNode`. */
  bundleDir(i: number): string {
    return this.bundles[i] ?? join(this.clusterDir, "nodes", `node-${i}`);
  }

  /** Adds a node (not started) that runs from `bundle`, e.g. one `dmfs cluster add-node` wrote; its index. */
  async addNode(bundle: string, spec: NodeSpec = {}): Promise<number> {
    const i = this.specs.length;
    const host = spec.host ?? "127.0.0.1";
    this.specs.push(spec);
    this.addrs.push(`${host}:${await freePort(host)}`);
    this.bundles[i] = bundle;
    return i;
  }

  /**
   * Starts node `i` with the bootstrap list of its spec (or `join` given here) and waits until it listens.
   * `cert` presents another node's bundle instead of its own ("node-<i>"); `env` adds to its
   * environment (test seams such as DMFS_TEST_CLOCK_OFFSET_MS).
   */
  async start(
    i: number,
    opts: { join?: number[]; extraArgs?: string[]; cert?: string; env?: Record<string, string> } = {},
  ): Promise<RunningTestNode> {
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
      "--bundle",
      opts.cert ? join(this.clusterDir, "nodes", opts.cert) : this.bundleDir(i),
      "--log-level",
      "info",
      ...joins,
      ...(this.options.replication ? ["--replication", String(this.options.replication)] : []),
      ...(this.options.writeQuorum ? ["--write-quorum", String(this.options.writeQuorum)] : []),
      ...(spec.extraArgs ?? []),
      ...(opts.extraArgs ?? []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...spec.env, ...opts.env },
    });
    const output: string[] = [];
    const node: RunningTestNode = { index: i, addr: this.addrs[i] as string, root, proc, output };
    const collect = (b: Buffer) => output.push(...b.toString().split("\n").filter(Boolean));
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    this.nodes[i] = node;
    // A node costs about 2 s of CPU to start (modules loaded by its main thread and its crypto threads):
    // two test files starting three or four nodes each at once on two cores can take well over 10 s.
    await waitFor(
      `node ${i} to listen on ${node.addr}`,
      () => {
        if (proc.exitCode !== null) throw new Error(`node ${i} exited: ${output.slice(-5).join("\n")}`);
        return output.some((l) => l.includes('"node listening"'));
      },
      NODE_START_TIMEOUT_MS,
    );
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

  /**
   * A FileClient with node i as its gateway and the cluster's data key, built the way the CLI builds one
   * (src/cli/file-session.ts), with another chunk size or index fan-out when given. All share one crypto
   * pool, closed by `stop`.
   */
  async files(i: number, options: FileClientOptions & { chunkSize?: number } = {}): Promise<FileClient> {
    const keys = deriveKeys(await loadDataKey(loadDataKeyPath(this.clusterDir)));
    const gateway = await this.client(i);
    this.pool ??= new CryptoPool({ threads: 2 });
    return new FileClient(gateway, this.pool, keys, options.chunkSize ?? CHUNK_SIZE, options);
  }

  /** The paths `files`'s gateway lists now: a full sync into a fresh in-memory listing index. */
  async listedPaths(files: FileClient): Promise<string[]> {
    const keys = deriveKeys(await loadDataKey(loadDataKeyPath(this.clusterDir)));
    const { clusterId } = await loadIdentity(this.clusterDir, "client");
    const index = ListingIndex.inMemory(clusterId, keys);
    try {
      await files.syncListing(index);
      return [...index.files()].map((f) => f.path);
    } finally {
      index.close();
    }
  }

  /** Node i's root directory (made when the node starts, or by `mountTmpfs`). */
  rootOf(i: number): string {
    return join(this.dir, `node-${i}`);
  }

  /**
   * Makes node i's root a tmpfs of `sizeMiB` MiB (before the node starts), so the test can fill its disk;
   * `stop` unmounts it. Needs root: see `tmpfsProblem` to skip where mounting is not permitted.
   */
  async mountTmpfs(i: number, sizeMiB: number): Promise<string> {
    const root = this.rootOf(i);
    await mkdir(root, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", root]);
    this.mounts.push(root);
    return root;
  }

  /** Every running node's id, by index (undefined for a node not running). */
  async nodeIds(): Promise<(string | undefined)[]> {
    return Promise.all(
      this.nodes.map(async (n, i) => (n && this.isRunning(i) ? (await this.status(i)).nodeId : undefined)),
    );
  }

  /** Where node i keeps the chunk file of `chunkId` (whether or not it is there). */
  chunkPath(i: number, chunkId: string): string {
    return join(this.dir, `node-${i}`, "chunks", chunkId.slice(0, 2), chunkId);
  }

  /** Rots node i's copy of `chunkId` on disk: one bit flipped in its middle byte. */
  async flipAByte(i: number, chunkId: string): Promise<void> {
    const path = this.chunkPath(i, chunkId);
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] as number) ^ 0x01;
    await writeFile(path, bytes);
  }

  /** The bytes of the file at `keyOrPath`, read through node `gateway` over a fresh connection. */
  async readBack(keyOrPath: string, gateway: number): Promise<Buffer> {
    const { out, bytes } = collector();
    await (await this.files(gateway)).read(keyOrPath, out);
    return bytes();
  }

  /** The files node i has moved to its quarantine. */
  async quarantined(i: number): Promise<string[]> {
    const dir = join(this.dir, `node-${i}`, "quarantine");
    return existsSync(dir) ? readdir(dir) : [];
  }

  isRunning(i: number): boolean {
    const proc = this.nodes[i]?.proc;
    return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  }

  /** Waits until every running node sees every other running node alive. */
  async waitForMesh(timeoutMs = 10_000): Promise<void> {
    const running = this.nodes.map((_, i) => i).filter((i) => this.isRunning(i));
    for (const i of running) {
      await waitFor(
        `node ${i} to see ${running.length - 1} alive peers`,
        async () => {
          const states = await this.peerStates(i);
          return running.every((j) => j === i || states[this.addrs[j] as string] === "alive");
        },
        timeoutMs,
      );
    }
  }

  /** Runs `dmfs <args> --node <gateway's addr> --cluster <clusterDir>` as a real process. */
  runCli(
    args: string[],
    opts: { gateway?: number; clusterDir?: string; timeoutMs?: number; stdin?: Readable } = {},
  ): Promise<CliResult> {
    const access = [
      "--node",
      this.addrs[opts.gateway ?? 0] as string,
      "--cluster",
      opts.clusterDir ?? this.clusterDir,
    ];
    return runCli([...args, ...access], opts.timeoutMs, opts.stdin);
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.pool?.destroy();
    await Promise.all(this.nodes.map((_, i) => this.kill(i)));
    for (const root of this.mounts.splice(0)) execFileSync("umount", [root]);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Why a tmpfs cannot be mounted here (not root, or mount refused, as in an unprivileged container), or
 * undefined when it can: tests that fill a disk skip with this reason.
 */
export function tmpfsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const dir = join(tmpdir(), `dmfs-mount-probe-${process.pid}`);
  try {
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "pipe" });
    execFileSync("umount", [dir]);
    return undefined;
  } catch (err) {
    return `mount -t tmpfs is not permitted here: ${(err as Error).message.split("\n")[0]}`;
  } finally {
    execFileSync("rm", ["-rf", dir]);
  }
}

/** Runs `dmfs <args>` from the build; kills it (and fails) when it outlives `timeoutMs`. */
/** Runs `dmfs <args>`; `stdin`, when given, is piped into its standard input (a socket, as Node makes it). */
export function runCli(args: string[], timeoutMs = 60_000, stdin?: Readable): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: "pipe" });
    if (stdin) {
      proc.stdin.on("error", () => undefined); // a command that stops reading early reports that itself
      stdin.pipe(proc.stdin);
    } else {
      proc.stdin.end();
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    proc.stdout.on("data", (b: Buffer) => stdout.push(b));
    proc.stderr.on("data", (b: Buffer) => stderr.push(b));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`dmfs ${args.join(" ")} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.once("error", reject);
    proc.once("close", (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(stdout);
      resolveRun({
        code,
        stdout: stdoutBytes.toString(),
        stdoutBytes,
        stderr: Buffer.concat(stderr).toString(),
      });
    });
  });
}

/**
 * Runs a `dmfs` command with `args`, sampling its peak resident set (VmHWM) until it exits (the kernel
 * forgets it then). `onStdout` gets its standard output as a stream.
 */
export async function runCliSampled(
  args: string[],
  onStdout?: (out: Readable) => Promise<void>,
): Promise<{ code: number | null; stderr: string; peak: number }> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const stderr: Buffer[] = [];
  proc.stderr.on("data", (b: Buffer) => stderr.push(b));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    // Bounded by the process's life: it stops at exit, which the test's timeout bounds.
    while (running) {
      try {
        peak = Math.max(peak, processMemory(proc.pid as number, "VmHWM"));
      } catch {
        // gone between the exit and this sample
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const consumed = onStdout?.(proc.stdout) ?? Promise.resolve(proc.stdout.resume());
  const code = await exited;
  running = false;
  await Promise.all([sampler, consumed]);
  return { code, stderr: Buffer.concat(stderr).toString(), peak };
}

/**
 * `size` bytes of seeded stream uploaded with `dmfs upload` through a named pipe in `dir` (so the file
 * exists only in flight) and read back to a pipe with `dmfs read`, both hashed as they stream; each
 * client's peak resident set is sampled. `access` names the cluster (`--node ... --cluster ...`).
 */
export async function roundTripThroughPipe(o: {
  dir: string;
  seed: string;
  size: number;
  path: string;
  access: string[];
}): Promise<{
  up: Awaited<ReturnType<typeof runCliSampled>>;
  read: Awaited<ReturnType<typeof runCliSampled>>;
  uploadSeconds: number;
  readSeconds: number;
  sentSha256: string;
  receivedSha256: string;
}> {
  const fifo = join(o.dir, `${o.seed}.fifo`);
  execFileSync("mkfifo", [fifo]);
  const sent = createHash("sha256");
  const feeding = pipeline(
    seededStream(o.seed, o.size),
    new Transform({
      transform(piece: Buffer, _encoding, done) {
        sent.update(piece);
        done(null, piece);
      },
    }),
    createWriteStream(fifo),
  );
  const started = performance.now();
  const up = await runCliSampled(["upload", fifo, "--path", o.path, "--json", ...o.access]);
  const uploadSeconds = (performance.now() - started) / 1000;
  await feeding;
  const readStarted = performance.now();
  let receivedSha256 = "";
  const read = await runCliSampled(["read", o.path, ...o.access], async (out) => {
    receivedSha256 = await sha256Of(out);
  });
  const readSeconds = (performance.now() - readStarted) / 1000;
  return { up, read, uploadSeconds, readSeconds, sentSha256: sent.digest("hex"), receivedSha256 };
}

/**
 * `size` deterministic pseudo-random bytes from `seed` (the AES-256-CTR keystream of a key derived
 * from it), produced piece by piece so files of any size never sit in memory.
 */
export function seededStream(seed: string, size: number, pieceBytes = 1024 * 1024): Readable {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(pieceBytes);
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, pieceBytes);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

/** Bytes `start` to `end` of `seededStream(seed, ...)`, made directly: the keystream from that block on. */
export function seededSlice(seed: string, start: number, end: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const counter = Buffer.alloc(16);
  counter.writeBigUInt64BE(BigInt(Math.floor(start / 16)), 8);
  const cipher = createCipheriv("aes-256-ctr", key, counter);
  const skip = start % 16;
  return cipher.update(Buffer.alloc(skip + Math.max(0, end - start))).subarray(skip);
}

export async function seededBytes(seed: string, size: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of seededStream(seed, size)) pieces.push(piece as Buffer);
  return Buffer.concat(pieces, size);
}

export async function writeSeededFile(path: string, seed: string, size: number): Promise<void> {
  await pipeline(seededStream(seed, size), createWriteStream(path));
}

/** SHA-256 hex of a stream, read piece by piece. */
export async function sha256Of(source: Readable): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of source) hash.update(piece as Buffer);
  return hash.digest("hex");
}

export function sha256OfFile(path: string): Promise<string> {
  return sha256Of(createReadStream(path, { highWaterMark: 1024 * 1024 }));
}

/** The demo's shape (0 knows nobody, 1 knows 0, 2 knows 0 and 1) with R=3, W=2: started and fully meshed. */
export async function startThreeNodeCluster(): Promise<TestCluster> {
  const cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }], {
    replication: 3,
    writeQuorum: 2,
  });
  try {
    await cluster.startAll();
    await cluster.waitForMesh();
  } catch (err) {
    // The caller never gets the cluster to stop: without this its node processes outlive the test.
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Makes `nodes/<name>/` from a pre-bundle cluster directory's `nodes/<name>.crt/.key`, when missing. */
async function legacyNodeBundle(clusterDir: string, name: string): Promise<void> {
  const bundle = join(clusterDir, "nodes", name);
  if (existsSync(join(bundle, "node.crt"))) return;
  await mkdir(bundle, { recursive: true, mode: 0o700 });
  await copyFile(join(clusterDir, "ca.crt"), join(bundle, "ca.crt"));
  await copyFile(join(clusterDir, "cluster.json"), join(bundle, "cluster.json"));
  await copyFile(join(clusterDir, "nodes", `${name}.crt`), join(bundle, "node.crt"));
  await copyFile(join(clusterDir, "nodes", `${name}.key`), join(bundle, "node.key"));
  await chmod(join(bundle, "node.key"), 0o600);
}

/** A Writable that keeps what it is given. */
export function collector(): { out: Writable; bytes: () => Buffer } {
  const pieces: Buffer[] = [];
  const out = new Writable({
    write(piece: Buffer, _encoding, done) {
      pieces.push(Buffer.from(piece));
      done();
    },
  });
  return { out, bytes: () => Buffer.concat(pieces) };
}

/** Asserts the run failed with `status` and exactly one `dmfs: ...` line on stderr; returns that line. */
export function oneSentence(result: CliResult, status: number): string {
  expect(result.code, result.stderr).toBe(status);
  const lines = result.stderr.split("\n").filter(Boolean);
  expect(lines, result.stderr).toHaveLength(1);
  const line = lines[0] as string;
  expect(line).toMatch(/^dmfs: \S/);
  expect(line).not.toMatch(/\bat .+:\d+:\d+/);
  return line;
}
