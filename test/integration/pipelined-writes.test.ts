// One authenticated client that pipelines far more chunk writes than a node can hold at once: the node
// takes a bounded number in flight and pauses the socket for the rest, so the client is slowed down to
// the node's normal rate instead of every write failing, while the node stays small and keeps serving
// other clients.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { loadIdentity } from "../../src/cluster/cluster-dir.ts";
import { requestLimitsFor } from "../../src/protocol/connection.ts";
import { maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { CHUNK_SIZE, processMemory, seededStream, TestCluster } from "../helpers/cluster-harness.ts";
import { pipelineChunkWrites } from "../helpers/pipelining-client.ts";

/** The done-when of issue 10: 5,000 pipelined writes of 1 MiB. */
const FLOOD_WRITES = 5_000;
/** Writes with an upload's window of 8 in flight: the node's normal rate, measured first. */
const BASELINE_WRITES = 200;
const RSS_LIMIT_BYTES = 400 * 1024 * 1024;
/** The project's request timeout: a write answered later than this would have failed a normal client. */
const REQUEST_TIMEOUT_MS = 30_000;
const MIB = 1024 * 1024;
/** Another client's status and read run once per this many answered writes. */
const ROUND_WRITES = 250;

let cluster: TestCluster;

beforeAll(async () => {
  // One node that stores every chunk itself: the flood meets the node's own limits, not a quorum's.
  cluster = await TestCluster.create([{}], { replication: 1, writeQuorum: 1 });
  await cluster.startAll();
});
afterAll(async () => {
  await cluster?.stop();
});

/** User plus system CPU seconds the process has used (/proc/PID/stat, clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function sha256Sink(): { out: Writable; digest: () => string } {
  const hash = createHash("sha256");
  const out = new Writable({
    write(piece: Buffer, _encoding, done) {
      hash.update(piece);
      done();
    },
  });
  return { out, digest: () => hash.digest("hex") };
}

describe("a client that pipelines more writes than a node holds at once", () => {
  it(`is slowed to the node's normal rate: ${FLOOD_WRITES} writes of 1 MiB all succeed in order, the node stays under 400 MiB and serves others`, async () => {
    const node = cluster.nodes[0];
    if (!node?.proc.pid) throw new Error("node 0 is not running");
    const pid = node.proc.pid;
    const identity = await loadIdentity(cluster.clusterDir, "client");
    const addr = cluster.addrs[0] as string;

    // Another client's file, read back while the flood runs.
    const reader = await cluster.files(0);
    const size = 3 * MIB + 12_345;
    const expected = createHash("sha256");
    for await (const piece of seededStream("bystander", size)) expected.update(piece as Buffer);
    const expectedDigest = expected.digest("hex");
    const { key } = await reader.upload(seededStream("bystander", size), "bystander.bin", 1_000);

    const baseline = await pipelineChunkWrites({
      addr,
      identity,
      count: BASELINE_WRITES,
      chunkBytes: CHUNK_SIZE,
      window: 8,
    });
    expect(baseline.errors).toEqual([]);
    const baselineRate = BASELINE_WRITES / (baseline.elapsedMs / 1000);

    let peakRss = 0;
    const sampler = setInterval(() => {
      if (cluster.isRunning(0)) peakRss = Math.max(peakRss, processMemory(pid, "VmRSS"));
    }, 100);
    onTestFinished(() => clearInterval(sampler));
    // Meanwhile another client runs `dmfs status` and reads its file, a round after every
    // ROUND_WRITES answers (paced by the flood itself, so the rounds measure the node, not the CPU
    // that a loop of `dmfs` processes would take from it).
    const served = { status: 0, reads: 0, duringFlood: 0 };
    let answered = 0;
    let nextRound: (() => void) | undefined;
    const bystander = async () => {
      for (let round = 1; round * ROUND_WRITES < FLOOD_WRITES; round++) {
        if (answered < round * ROUND_WRITES) {
          await new Promise<void>((r) => {
            nextRound = r;
          });
        }
        const status = await cluster.runCli(["status", "--json"], { timeoutMs: 20_000 });
        expect(status.code, status.stderr).toBe(0);
        served.status++;
        const { out, digest } = sha256Sink();
        await reader.read(key, out);
        expect(digest()).toBe(expectedDigest);
        served.reads++;
        if (answered < FLOOD_WRITES) served.duringFlood++;
      }
    };
    const cpuBefore = cpuSecondsOf(pid);
    const [result] = await Promise.all([
      pipelineChunkWrites({
        addr,
        identity,
        count: FLOOD_WRITES,
        chunkBytes: CHUNK_SIZE,
        onAnswer: (n) => {
          answered = n;
          if (n % ROUND_WRITES === 0) nextRound?.();
        },
      }),
      bystander(),
    ]);
    const nodeCpu = cpuSecondsOf(pid) - cpuBefore;

    const floodRate = FLOOD_WRITES / (result.elapsedMs / 1000);
    const slowest = Math.max(...result.latencyMs);
    // How far an answer came ahead of its turn: bounded by the requests a node takes on at once.
    const overtaken = Math.max(...result.answered.map((id, position) => id - 1 - position));
    const { maxRequests } = requestLimitsFor(maxFrameBytesFor(CHUNK_SIZE));
    console.log(
      `pipelined ${FLOOD_WRITES} x 1 MiB: ${floodRate.toFixed(0)} writes/s (baseline with a window of 8: ` +
        `${baselineRate.toFixed(0)}/s), slowest answer ${slowest.toFixed(0)} ms, node VmHWM ` +
        `${(processMemory(pid, "VmHWM") / MIB).toFixed(0)} MiB (sampled peak ${(peakRss / MIB).toFixed(0)} MiB), ` +
        `node CPU ${((nodeCpu * 1000) / FLOOD_WRITES).toFixed(1)} ms per write, ` +
        `served meanwhile: ${served.status} status, ${served.reads} reads (${served.duringFlood} before the last write)`,
    );

    expect(result.errors).toEqual([]);
    expect(result.answered).toHaveLength(FLOOD_WRITES);
    expect(slowest).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(overtaken).toBeLessThanOrEqual(maxRequests);
    expect(processMemory(pid, "VmHWM")).toBeLessThan(RSS_LIMIT_BYTES);
    expect(served.duringFlood).toBeGreaterThan(0);
    // The node's normal rate, give or take a machine shared with other work.
    expect(floodRate).toBeGreaterThan(baselineRate / 2);
    expect(cluster.isRunning(0)).toBe(true);
    // About 60 s of writes at 80 a second on this 2-core machine when it is otherwise idle; much
    // longer when other work shares the cores.
  }, 480_000);
});
