import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addNode,
  initCluster,
  loadDataKeyPath,
  loadIdentity,
  loadNodeBundle,
} from "../../src/cluster/cluster-dir.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
// Runs `dmfs init` as main.ts would: the command on its own, errors reported by report-error.ts.
const RUN_INIT = `
import("./src/cli/init.ts")
  .then((m) => m.initCommand().parseAsync(process.argv.slice(1), { from: "user" }))
  .catch((err) => import("./src/cli/report-error.ts").then((r) => {
    r.reportError(err, { debug: false });
    process.exitCode = r.exitStatusFor(err);
  }));
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runInit(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "-e", RUN_INIT, "--", ...args],
      { cwd: repoRoot, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function clusterIdIn(dir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dir, "cluster.json"), "utf8")) as { clusterId: string }).clusterId;
}

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "dmfs-init-"));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe("dmfs init", () => {
  const dir = () => join(workDir, "cluster");

  it("writes the admin bundle and one bundle per node holding only its own key, keys readable only by the owner", async () => {
    const run = await runInit("--dir", dir(), "--nodes", "2", "--json");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { clusterId: string; dir: string; nodes: number };
    const nodeBundles = [join(dir(), "nodes", "node-0"), join(dir(), "nodes", "node-1")];
    expect(printed).toEqual({ clusterId: await clusterIdIn(dir()), dir: dir(), nodes: 2, nodeBundles });
    expect(printed.clusterId).toMatch(/^[0-9a-f]{32}$/);

    const cluster = JSON.parse(await readFile(join(dir(), "cluster.json"), "utf8")) as { createdAt: string };
    expect(Number.isNaN(Date.parse(cluster.createdAt))).toBe(false);
    for (const key of [
      "ca.key",
      "client.key",
      "data.key",
      "nodes/node-0/node.key",
      "nodes/node-1/node.key",
    ]) {
      expect(await modeOf(join(dir(), key)), key).toBe(0o600);
    }
    for (const cert of ["ca.crt", "client.crt", "issued/node-0.crt", "issued/node-1.crt"]) {
      expect(existsSync(join(dir(), cert)), cert).toBe(true);
    }
    for (const bundle of nodeBundles) {
      expect((await readdir(bundle)).sort()).toEqual(["ca.crt", "cluster.json", "node.crt", "node.key"]);
    }
    expect(existsSync(join(dir(), "nodes/node-2"))).toBe(false);
    expect((await readFile(join(dir(), "data.key"))).length).toBe(32);
  });

  it("leaves identities that load back with the right role, cluster and CA", async () => {
    const clusterId = await clusterIdIn(dir());
    const ca = new X509Certificate((await loadIdentity(dir(), "client")).ca);
    for (const [role, name, unit] of [
      ["node", "node-1", "OU=dmfs-node"],
      ["client", undefined, "OU=dmfs-client"],
    ] as const) {
      const identity =
        role === "node" ? await loadNodeBundle(join(dir(), "nodes", name)) : await loadIdentity(dir(), role);
      expect(identity.clusterId).toBe(clusterId);
      const cert = new X509Certificate(identity.cert);
      expect(cert.subject).toContain(unit);
      expect(cert.subject).toContain(`O=dmfs-${clusterId}`);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(identity.key).toContain("BEGIN PRIVATE KEY");
    }
    expect(loadDataKeyPath(dir())).toBe(join(dir(), "data.key"));
  });

  it("refuses to overwrite an existing cluster without --force, naming the directory", async () => {
    const before = await clusterIdIn(dir());
    const caBefore = await readFile(join(dir(), "ca.crt"), "utf8");
    const run = await runInit("--dir", dir());
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(dir());
    expect(run.stderr).toContain("--force");
    expect(await clusterIdIn(dir())).toBe(before);
    expect(await readFile(join(dir(), "ca.crt"), "utf8")).toBe(caBefore);
  });

  it("replaces the cluster with --force: new id, new keys, only the new node certificates", async () => {
    const before = await clusterIdIn(dir());
    const dataKeyBefore = await readFile(join(dir(), "data.key"));
    await mkdir(join(dir(), "nodes", "node-7"));
    await writeFile(join(dir(), "nodes", "node-7", "node.crt"), "left over from an older cluster");
    const run = await runInit("--dir", dir(), "--nodes", "1", "--force");
    expect(run.code).toBe(0);
    const after = await clusterIdIn(dir());
    expect(after).not.toBe(before);
    expect(run.stdout).toContain(`Created cluster ${after}`);
    expect(run.stdout).toContain(join(dir(), "nodes", "node-0"));
    expect(run.stdout).toContain("data.key");
    expect(await readFile(join(dir(), "data.key"))).not.toEqual(dataKeyBefore);
    expect(await modeOf(join(dir(), "data.key"))).toBe(0o600);
    expect(existsSync(join(dir(), "nodes", "node-1"))).toBe(false);
    expect(existsSync(join(dir(), "nodes", "node-7"))).toBe(false);
    expect(existsSync(join(dir(), "issued", "node-1.crt"))).toBe(false);
  });

  it("takes the cluster dir and one node per server from --config", async () => {
    const configDir = join(workDir, "configured");
    await mkdir(configDir);
    const config = join(configDir, "dmfs.yaml");
    await writeFile(
      config,
      `cluster:
  dir: ./certs
servers:
  - { listenAddr: "127.0.0.1:8000", root: ./a }
  - { listenAddr: "127.0.0.1:8001", root: ./b, nodes: [":8000"] }
`,
    );
    const run = await runInit("--config", config, "--json");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ dir: join(configDir, "certs"), nodes: 2 });
    expect(existsSync(join(configDir, "certs", "nodes", "node-1", "node.crt"))).toBe(true);
    expect(existsSync(join(configDir, "certs", "nodes", "node-2"))).toBe(false);
  });

  it("reports a bad config with the config's exit status and the field at fault", async () => {
    const config = join(workDir, "bad.yaml");
    await writeFile(config, `servers:\n  - { listenAddr: "nowhere", root: ./a }\n`);
    const run = await runInit("--config", config);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("servers[0].listenAddr");
  });

  it("rejects a node count that is not a positive whole number", async () => {
    const run = await runInit("--dir", join(workDir, "never"), "--nodes", "0");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--nodes");
    expect(existsSync(join(workDir, "never"))).toBe(false);
  });
});

describe("the cluster directory loader", () => {
  it("names the directory when it does not exist", async () => {
    const missing = join(workDir, "absent");
    await expect(loadIdentity(missing, "client")).rejects.toMatchObject({
      code: "E_CLUSTER_MISSING",
      message: expect.stringContaining(`${missing} does not exist`),
    });
    expect(() => loadDataKeyPath(missing)).toThrow(expect.objectContaining({ code: "E_CLUSTER_MISSING" }));
  });

  it("names the file that is missing from an incomplete cluster", async () => {
    const dir = join(workDir, "small");
    await initCluster({ dir, nodes: 1 });
    await expect(loadNodeBundle(join(dir, "nodes", "node-4"))).rejects.toMatchObject({
      code: "E_CLUSTER_MISSING",
      subject: join(dir, "nodes", "node-4"),
      message: expect.stringContaining("is not a node bundle"),
    });
    await rm(join(dir, "nodes", "node-0", "node.key"));
    await expect(loadNodeBundle(join(dir, "nodes", "node-0"))).rejects.toMatchObject({
      code: "E_CLUSTER_MISSING",
      message: expect.stringContaining("node.key"),
    });
    await rm(join(dir, "client.key"));
    await expect(loadIdentity(dir, "client")).rejects.toMatchObject({
      code: "E_CLUSTER_MISSING",
      message: expect.stringContaining("client.key"),
    });
    await rm(join(dir, "data.key"));
    expect(() => loadDataKeyPath(dir)).toThrow(expect.objectContaining({ subject: join(dir, "data.key") }));
  });

  it("refuses a cluster.json without a valid cluster id", async () => {
    const dir = join(workDir, "corrupt");
    await initCluster({ dir, nodes: 1 });
    await writeFile(join(dir, "cluster.json"), `{ "clusterId": "short" }`);
    await expect(loadIdentity(dir, "client")).rejects.toMatchObject({ code: "E_CLUSTER_MISSING" });
    await writeFile(join(dir, "cluster.json"), "{ not json");
    await expect(loadIdentity(dir, "client")).rejects.toMatchObject({ code: "E_CLUSTER_MISSING" });
  });

  it("refuses to load a node identity from a directory holding the data key or the CA key", async () => {
    const dir = join(workDir, "admin");
    await initCluster({ dir, nodes: 1 });
    await expect(loadNodeBundle(dir)).rejects.toMatchObject({
      code: "E_BUNDLE_SECRET",
      message: expect.stringContaining("data.key"),
    });
    const bundle = join(dir, "nodes", "node-0");
    await writeFile(join(bundle, "ca.key"), await readFile(join(dir, "ca.key")));
    await expect(loadNodeBundle(bundle)).rejects.toMatchObject({ code: "E_BUNDLE_SECRET" });
  });

  it("adds a node from the CA without touching the data key, once per name", async () => {
    const dir = join(workDir, "growing");
    const { clusterId } = await initCluster({ dir, nodes: 1 });
    const dataKey = await readFile(join(dir, "data.key"));
    const out = join(workDir, "elsewhere", "node-9");
    const bundle = await addNode({ dir, name: "node-9", out });
    expect(bundle.dir).toBe(out);
    expect((await loadNodeBundle(out)).clusterId).toBe(clusterId);
    expect(await readFile(join(dir, "data.key"))).toEqual(dataKey);
    expect(await modeOf(join(out, "node.key"))).toBe(0o600);
    await expect(addNode({ dir, name: "node-9" })).rejects.toMatchObject({ code: "E_CLUSTER_EXISTS" });
    await expect(addNode({ dir, name: "../x" })).rejects.toMatchObject({ code: "E_USAGE" });
  });

  it("completes an interrupted init without --force, since no cluster.json marks it as a cluster", async () => {
    const dir = join(workDir, "interrupted");
    await mkdir(join(dir, "nodes"), { recursive: true });
    await writeFile(join(dir, "ca.key"), "half-written");
    const { clusterId } = await initCluster({ dir, nodes: 1 });
    expect((await loadNodeBundle(join(dir, "nodes", "node-0"))).clusterId).toBe(clusterId);
    expect(await modeOf(join(dir, "ca.key"))).toBe(0o600);
  });

  it("keeps a data key it finds without a cluster.json unless forced", async () => {
    const dir = join(workDir, "keyed");
    await mkdir(dir);
    await writeFile(join(dir, "data.key"), "k".repeat(32), { mode: 0o600 });
    await expect(initCluster({ dir, nodes: 1 })).rejects.toMatchObject({
      code: "E_CLUSTER_EXISTS",
      message: expect.stringContaining("A data key already exists"),
    });
    expect(await readFile(join(dir, "data.key"), "utf8")).toBe("k".repeat(32));
    await initCluster({ dir, nodes: 1, force: true });
    expect(await readFile(join(dir, "data.key"), "utf8")).not.toBe("k".repeat(32));
  });
});
