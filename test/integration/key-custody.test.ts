// Key custody (DESIGN.md section 8) against real node processes: nodes hold neither the data key nor the
// CA key, a node added from the CA joins and takes copies, and a revoked node is refused by every node.
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClusterIdentity,
  loadClusterCa,
  loadIdentity,
  loadIssuedCertificate,
  loadNodeBundle,
} from "../../src/cluster/cluster-dir.ts";
import { createClusterCa } from "../../src/crypto/certificates.ts";
import { createRevocation } from "../../src/crypto/revocation.ts";
import { dialNode } from "../../src/node/dial.ts";
import { maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import {
  CHUNK_SIZE,
  runCli,
  seededBytes,
  seededStream,
  startThreeNodeCluster,
  type TestCluster,
  waitFor,
} from "../helpers/cluster-harness.ts";
import { adminSecrets, filesUnder, findSecrets } from "../helpers/secret-scan.ts";

/** Heartbeat of nodes started with `--listen` (src/cli/node.ts): a revocation must bite within it. */
const HEARTBEAT_MS = 1_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/**
 * Dials node `addr` presenting `identity` as a node would; resolves when it is let in. A certificate
 * whose node is running is presented with that node's id (one certificate, one node: under another id
 * it would be refused as in use, whatever its revocation state).
 */
async function dialAs(identity: ClusterIdentity, addr: string, nodeId = "f".repeat(32)): Promise<void> {
  const { conn } = await dialNode(addr, {
    identity,
    hello: {
      t: "hello",
      protocol: PROTOCOL_VERSION,
      clusterId: identity.clusterId,
      role: "node",
      nodeId,
      listenAddr: "127.0.0.1:1",
    },
    maxFrameBytes: maxFrameBytesFor(CHUNK_SIZE),
    counters: { bytesIn: 0, bytesOut: 0, framesRejected: {} },
    timeoutMs: 2_000,
  });
  conn.close(undefined);
}

/** Whether node j refuses a connection from `identity` (presented as node `nodeId`). */
function isRefused(identity: ClusterIdentity, j: number, nodeId?: string): Promise<boolean> {
  return dialAs(identity, cluster.addrs[j] as string, nodeId).then(
    () => false,
    (err: unknown) => {
      // A dial that timed out, found no listener or met the certificate in use by its running node says
      // nothing about revocation.
      const code = (err as { code?: string }).code;
      if (["E_TIMEOUT", "ECONNREFUSED", "E_UNREACHABLE", "E_CERT_IN_USE"].includes(code ?? "")) throw err;
      return true;
    },
  );
}

function collector() {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on("data", (b: Buffer) => parts.push(b));
  return { out, bytes: () => Buffer.concat(parts) };
}

describe("key custody", () => {
  it("leaves no node's bundle or root with the data key or the CA key after uploads and reads", async () => {
    const files = await cluster.files(0);
    const reader = await cluster.files(2);
    const size = 3 * CHUNK_SIZE + 17;
    await files.upload(seededStream("custody", size), "private/report.pdf", 1_000);
    const { out, bytes } = collector();
    await reader.read("private/report.pdf", out);
    expect(bytes().equals(await seededBytes("custody", size))).toBe(true);

    const secrets = await adminSecrets(cluster.clusterDir);
    const {
      found,
      files: scannedFiles,
      bytes: scanned,
    } = await findSecrets(
      [0, 1, 2].flatMap((i) => [cluster.bundleDir(i), cluster.nodes[i]?.root ?? ""]),
      secrets,
    );
    expect(found).toEqual([]);
    // The same scan over the admin bundle finds every one of them: it does see the secrets it looks for.
    const inAdmin = await findSecrets([cluster.clusterDir], secrets);
    for (const what of ["data.key in", "ca.key in", "client.key in"]) {
      expect(
        inAdmin.found.some((f) => f.startsWith(what)),
        what,
      ).toBe(true);
    }
    expect(scannedFiles.filter((p) => p.endsWith("node.db"))).toHaveLength(3);
    // The scan saw the stored chunks, not just empty directories.
    expect(scanned).toBeGreaterThan(size);
  });

  it("refuses to start a node from the admin bundle, in one sentence", async () => {
    const run = await runCli(
      [
        "node",
        "--listen",
        "127.0.0.1:1",
        "--root",
        join(cluster.dir, "never"),
        "--bundle",
        cluster.clusterDir,
      ],
      20_000,
    );
    expect(run.code).toBe(3);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^dmfs: .*holds data\.key, so it is the admin bundle, not a node bundle/);
    expect(existsSync(join(cluster.dir, "never"))).toBe(false);
  });

  it("adds a node from the CA without touching the data key; it joins the running cluster and takes copies", async () => {
    const dataKeyPath = join(cluster.clusterDir, "data.key");
    const keyBefore = await readFile(dataKeyPath);
    const keyTimeBefore = (await stat(dataKeyPath)).mtimeMs;
    const out = join(cluster.dir, "machine-3", "bundle");
    const add = await runCli([
      "cluster",
      "add-node",
      "node-3",
      "--cluster",
      cluster.clusterDir,
      "--out",
      out,
      "--json",
    ]);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ name: "node-3", bundle: out });
    expect((await readdir(out)).sort()).toEqual(["ca.crt", "cluster.json", "node.crt", "node.key"]);
    expect(await readFile(dataKeyPath)).toEqual(keyBefore);
    expect((await stat(dataKeyPath)).mtimeMs).toBe(keyTimeBefore);

    const i = await cluster.addNode(out, { join: [0] });
    await cluster.start(i);
    await cluster.waitForMesh(15_000);
    // Repair gives the newcomer the copies it is now a home of; a file uploaded now lands there too.
    const files = await cluster.files(0);
    await files.upload(seededStream("after-join", 2 * CHUNK_SIZE), "after-join.bin", 2_000);
    await waitFor("node-3 to hold copies", async () => (await cluster.status(i)).store.chunks > 0, 20_000);
    const { out: sink, bytes } = collector();
    await (await cluster.files(i)).read("private/report.pdf", sink);
    expect(bytes().equals(await seededBytes("custody", 3 * CHUNK_SIZE + 17))).toBe(true);
  }, 90_000);

  it("a revocation of a real certificate signed by an impostor CA of the same name is refused", async () => {
    const client = await cluster.client(0);
    const { clusterId } = await loadIdentity(cluster.clusterDir, "client");
    const impostor = await createClusterCa(clusterId);
    const node1 = await readFile(join(cluster.clusterDir, "issued", "node-1.crt"), "utf8");
    const forged = await createRevocation(impostor, node1);
    await expect(client.request({ t: "cluster.revoke", revocation: forged }, "ok")).rejects.toMatchObject({
      code: "E_MESSAGE_INVALID",
    });
    const node1Id = (await cluster.status(1)).nodeId;
    await dialAs(await loadNodeBundle(cluster.bundleDir(1)), cluster.addrs[0] as string, node1Id);
    expect((await cluster.peerStates(0))[cluster.addrs[1] as string]).toBe("alive");
  });

  it("a revocation handed to one node reaches the others by gossip within one heartbeat, and a node that was down on rejoining", async () => {
    const i = 3;
    const revokedIdentity = await loadNodeBundle(cluster.bundleDir(i));
    const revokedId = (await cluster.status(i)).nodeId;
    await dialAs(revokedIdentity, cluster.addrs[0] as string, revokedId); // let in before the revocation
    await cluster.kill(2);

    // Signed as `dmfs cluster revoke` signs it, but handed to node 0 alone.
    const { ca } = await loadClusterCa(cluster.clusterDir);
    const revocation = await createRevocation(ca, await loadIssuedCertificate(cluster.clusterDir, "node-3"));
    const client = await cluster.client(0);
    await client.request({ t: "cluster.revoke", revocation }, "ok");
    const handedAt = Date.now();
    await waitFor(
      "nodes 0 and 1 to refuse node-3's certificate",
      async () =>
        (await Promise.all([0, 1].map((j) => isRefused(revokedIdentity, j, revokedId)))).every(Boolean),
      HEARTBEAT_MS,
    );
    const spreadMs = Date.now() - handedAt;
    expect(spreadMs).toBeLessThanOrEqual(HEARTBEAT_MS + 500);
    // The running node-3 lost its links and cannot get back in; the others count the refusals.
    for (const j of [0, 1]) {
      await waitFor(
        `node ${j} to see node-3 down`,
        async () => (await cluster.peerStates(j))[cluster.addrs[i] as string] === "down",
        5_000,
      );
    }
    expect((await cluster.status(0)).counters.framesRejected.E_REVOKED ?? 0).toBeGreaterThan(0);

    await cluster.start(2);
    await waitFor(
      "node 2 to learn the revocation on rejoining",
      () => isRefused(revokedIdentity, 2, revokedId),
      15_000,
    );
    for (const j of [0, 1, 2]) {
      expect(await filesUnder(join(cluster.nodes[j]?.root ?? "", "revocations")), `node ${j}`).toHaveLength(
        1,
      );
    }
    console.log(`revocation spread by gossip to every live node in ${spreadMs} ms`);
  }, 90_000);

  it("dmfs cluster revoke: every other node refuses the certificate within one heartbeat, and still after a restart", async () => {
    const add = await runCli(["cluster", "add-node", "node-4", "--cluster", cluster.clusterDir]);
    expect(add.code).toBe(0);
    const i = await cluster.addNode(join(cluster.clusterDir, "nodes", "node-4"), { join: [0] });
    await cluster.start(i);
    const revokedIdentity = await loadNodeBundle(cluster.bundleDir(i));
    const revokedId = (await cluster.status(i)).nodeId;
    await waitFor(
      "node-4 to be let in",
      async () => !(await isRefused(revokedIdentity, 1, revokedId)),
      5_000,
    );

    const run = await cluster.runCli(["cluster", "revoke", "node-4", "--json"], { gateway: 0 });
    const revokedAt = Date.now();
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { name: string; nodes: string[] };
    expect(printed.name).toBe("node-4");
    expect(existsSync(join(cluster.clusterDir, "revocations", "node-4.crl"))).toBe(true);
    const others = [0, 1, 2];
    await waitFor(
      "every other node to refuse node-4's certificate",
      async () =>
        (await Promise.all(others.map((j) => isRefused(revokedIdentity, j, revokedId)))).every(Boolean),
      HEARTBEAT_MS,
    );
    const refusedWithinMs = Date.now() - revokedAt;
    expect(refusedWithinMs).toBeLessThanOrEqual(HEARTBEAT_MS + 500);

    // Alone after a restart - no peer to gossip it again - node 1 still refuses both certificates.
    for (const j of [0, 2, 3, i]) await cluster.kill(j);
    await cluster.kill(1);
    await cluster.start(1);
    expect(await isRefused(revokedIdentity, 1)).toBe(true);
    expect(await isRefused(await loadNodeBundle(cluster.bundleDir(3)), 1)).toBe(true);
    expect(await isRefused(await loadNodeBundle(cluster.bundleDir(0)), 1)).toBe(false);
    console.log(`dmfs cluster revoke enforced on every node ${refusedWithinMs} ms after it exited`);
  }, 90_000);
});
