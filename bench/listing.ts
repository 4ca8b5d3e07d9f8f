// Suite "listing": the client's listing index against a real node whose catalog holds N entries (real
// sealed metadata, no file data, written into the node's database before it starts, as the gc suite writes
// chunk files straight into a store). Cases: the first sync of an empty index ("sync-first"), a sync after
// a few uploads and deletes ("sync-changes"), listing one folder of 100 by prefix through the library with
// an open connection ("prefix-lib": sync round trip plus the query) and as a person runs it
// ("prefix-cli": the `dmfs ls PREFIX` process from start to exit, next to "cli-start": `dmfs --help`),
// and the whole listing ("json-cli": `dmfs ls --json` with its peak resident memory).
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FileClient } from "../src/client/file-client.ts";
import { LISTING_INDEX_FILE, ListingIndex } from "../src/client/listing-index.ts";
import { NodeClient } from "../src/client/node-client.ts";
import { loadDataKeyPath, loadIdentity } from "../src/cluster/cluster-dir.ts";
import { deriveKeys, loadDataKey } from "../src/crypto/keys.ts";
import { CryptoPool } from "../src/workers/crypto-pool.ts";
import { folderPaths, seedCatalog } from "../test/helpers/catalog-seed.ts";
import { BenchCluster, CHUNK_SIZE, DIST_CLI } from "./e2e-cluster.ts";
import type { BenchSuite } from "./index.ts";

const ENTRIES = Number(process.env.DMFS_BENCH_LISTING_ENTRIES ?? 200_000);
const PER_FOLDER = 100;
const CHANGES = 10;
const PREFIX_RUNS = 20;
const CLI_RUNS = 5;
const MIB = 1024 * 1024;

export const listingSuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "entries", title: "entries" },
    { field: "pages", title: "pages" },
    { field: "listed", title: "listed" },
    { field: "ms", title: "ms", format: (v) => Number(v).toFixed(1) },
    { field: "p95Ms", title: "p95 ms", format: (v) => (v === null ? "-" : Number(v).toFixed(1)) },
    { field: "peakRssMiB", title: "peak MiB", format: (v) => (v === null ? "-" : Number(v).toFixed(0)) },
    { field: "met", title: "met", format: (v) => (v === null ? "-" : String(v)) },
  ],
  run: async (report) => {
    const dir = await mkdtemp(join(tmpdir(), "dmfs-bench-listing-"));
    process.stderr.write(`working in ${dir}\n`);
    const cluster = await BenchCluster.create(dir, 1, { replication: 1, writeQuorum: 1 });
    const pool = new CryptoPool({ threads: 1 });
    const record = (fields: { case: string } & Record<string, string | number | null>) =>
      report({ ...fields, suite: "listing", entries: ENTRIES, load1: round(loadavg()[0] ?? 0) });
    try {
      const keys = deriveKeys(await loadDataKey(loadDataKeyPath(cluster.clusterDir)));
      const identity = await loadIdentity(cluster.clusterDir, "client");
      let started = performance.now();
      await seedCatalog(join(dir, "node-0"), keys, folderPaths(ENTRIES, PER_FOLDER));
      process.stderr.write(
        `seeded ${ENTRIES} entries in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
      const node = await cluster.startNode();
      const gateway = await NodeClient.connect([node.addr], { identity, chunkSize: CHUNK_SIZE });
      const { index } = ListingIndex.open(cluster.clusterDir, identity.clusterId, keys);
      try {
        started = performance.now();
        const first = await index.sync(gateway);
        record({
          case: "sync-first",
          pages: first.pages,
          listed: index.counts().files,
          ms: performance.now() - started,
        });

        const files = new FileClient(gateway, pool, keys, CHUNK_SIZE);
        for (let i = 0; i < CHANGES / 2; i++) {
          await files.upload(Readable.from([Buffer.from(`new file ${i}\n`)]), `new/${i}.txt`, Date.now());
          await files.delete(`dir-00007/file-${String(i).padStart(5, "0")}.bin`);
        }
        started = performance.now();
        const again = await index.sync(gateway);
        record({
          case: "sync-changes",
          pages: again.pages,
          listed: again.entries,
          ms: performance.now() - started,
          met: yesNo(again.entries === CHANGES),
        });

        // A folder in the middle of the path order; each run syncs (nothing changed: one page) and lists.
        const prefix = `dir-${String(Math.floor(ENTRIES / PER_FOLDER / 2)).padStart(5, "0")}/`;
        const times: number[] = [];
        let listed = 0;
        for (let run = 0; run < PREFIX_RUNS; run++) {
          started = performance.now();
          const sync = await index.sync(gateway);
          listed = [...index.files(prefix)].length;
          times.push(performance.now() - started);
          if (sync.entries !== 0)
            throw new Error(`prefix-lib: a sync with nothing changed fetched ${sync.entries}`);
        }
        const lib = summary(times);
        record({
          case: "prefix-lib",
          pages: 1,
          listed,
          ms: lib.median,
          p95Ms: lib.p95,
          met: yesNo(lib.median < 200),
        });
      } finally {
        index.close();
        gateway.close();
      }

      const access = ["--node", node.addr, "--cluster", cluster.clusterDir];
      const version = await repeat(() => runCli(["--help"]));
      record({ case: "cli-start", ms: version.median, p95Ms: version.p95 });
      const prefix = `dir-${String(Math.floor(ENTRIES / PER_FOLDER / 3)).padStart(5, "0")}/`;
      const cli = await repeat(() => runCli(["ls", prefix, ...access], PER_FOLDER + 1));
      record({
        case: "prefix-cli",
        listed: PER_FOLDER,
        ms: cli.median,
        p95Ms: cli.p95,
        met: yesNo(cli.median < 200),
      });

      const whole = await runCli(["ls", "--json", ...access]);
      record({
        case: "json-cli",
        listed: whole.lines - 2,
        ms: whole.ms,
        peakRssMiB: whole.peakBytes / MIB,
        met: yesNo(whole.peakBytes < 200 * MIB),
      });
      await rm(join(cluster.clusterDir, LISTING_INDEX_FILE), { force: true });
      const fresh = await runCli(["ls", "--json", ...access]);
      record({
        case: "json-cli-first",
        listed: fresh.lines - 2,
        ms: fresh.ms,
        peakRssMiB: fresh.peakBytes / MIB,
        met: yesNo(fresh.peakBytes < 200 * MIB),
      });
    } finally {
      await pool.destroy();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** Runs `dmfs ARGS` from the build; wall time from spawn to exit, output lines, peak RSS sampled every 20 ms. */
async function runCli(
  args: string[],
  expectLines?: number,
): Promise<{ ms: number; lines: number; peakBytes: number }> {
  const started = performance.now();
  const proc = spawn(process.execPath, [DIST_CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let lines = 0;
  let stderr = "";
  proc.stdout.on("data", (b: Buffer) => {
    for (const byte of b) if (byte === 10) lines++;
  });
  proc.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  let peakBytes = 0;
  const timer = setInterval(() => {
    readFile(`/proc/${proc.pid}/status`, "utf8")
      .then((status) => {
        const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
        if (kb) peakBytes = Math.max(peakBytes, Number(kb) * 1024);
      })
      .catch(() => undefined);
  }, 20);
  const code = await new Promise<number | null>((resolve) => proc.once("close", resolve));
  clearInterval(timer);
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`dmfs ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
  if (expectLines !== undefined && lines !== expectLines) {
    throw new Error(`dmfs ${args.join(" ")} printed ${lines} lines, not ${expectLines}`);
  }
  return { ms, lines, peakBytes };
}

async function repeat(run: () => Promise<{ ms: number }>): Promise<{ median: number; p95: number }> {
  const times: number[] = [];
  for (let i = 0; i < CLI_RUNS; i++) times.push((await run()).ms);
  return summary(times);
}

function summary(times: number[]): { median: number; p95: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { median: at(0.5), p95: at(0.95) };
}

function yesNo(ok: boolean): string {
  return ok ? "yes" : "no";
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
