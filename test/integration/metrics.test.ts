// A real node serving Prometheus metrics (`--metrics-addr`): the scrape parses as Prometheus text, and
// its counters move with an upload made through that node.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";
import { parseMetrics, sampleValue } from "../helpers/prometheus.ts";

let cluster: TestCluster;
let metricsUrl: string;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }], { replication: 2, writeQuorum: 2 });
  try {
    const metricsAddr = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${metricsAddr}/metrics`;
    cluster.specs[0] = { ...cluster.specs[0], extraArgs: ["--metrics-addr", metricsAddr] };
    await cluster.startAll();
    await cluster.waitForMesh();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

async function scrape() {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

describe("a node's /metrics", () => {
  it("parses as Prometheus text, names the node and sees its peer alive", async () => {
    const { nodeId } = await cluster.status(0);
    const peerId = (await cluster.status(1)).nodeId;
    const families = await scrape();
    expect(sampleValue(families, "dmfs_info", { node_id: nodeId })).toBe(1);
    expect(sampleValue(families, "dmfs_peer_up", { peer: peerId, state: "alive" })).toBe(1);
    expect(sampleValue(families, "dmfs_disk_free_bytes")).toBeGreaterThan(0);
  });

  it("moves its counters with an upload through the node", async () => {
    const before = await scrape();
    const files = await cluster.files(0);
    const size = 3 * 1024 * 1024 + 5;
    await files.upload(seededStream("metrics", size), "metrics/file.bin", Date.now());
    // The second copy may land a moment after the acknowledgement; poll with a deadline.
    const after = await waitFor("the upload's chunks in the metrics", async () => {
      const families = await scrape();
      const stored = sampleValue(families, "dmfs_chunks_stored_total") ?? 0;
      return stored >= (sampleValue(before, "dmfs_chunks_stored_total") ?? 0) + 4 ? families : undefined;
    });
    if (after === undefined) throw new Error("waitFor returned without the metrics");
    const moved = (name: string, labels: Record<string, string> = {}) =>
      (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    expect(moved("dmfs_uploads_total")).toBe(1);
    expect(moved("dmfs_store_chunks")).toBeGreaterThanOrEqual(4);
    expect(moved("dmfs_network_received_bytes_total")).toBeGreaterThan(size);
    expect(moved("dmfs_catalog_files")).toBe(1);
    expect(moved("dmfs_requests_total", { type: "file.commit" })).toBe(1);
  });

  it("answers 404 off /metrics and keeps serving", async () => {
    expect((await fetch(metricsUrl.replace("/metrics", "/"))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: "POST" })).status).toBe(405);
    await scrape();
  });
});
