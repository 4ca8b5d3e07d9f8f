import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig, nodeBundleDir } from "../../src/config/config.ts";
import { DmfsError } from "../../src/errors.ts";

const workDir = mkdtempSync(join(tmpdir(), "dmfs-config-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

let fileCount = 0;
function writeConfig(text: string): string {
  const file = join(workDir, `config-${fileCount++}.yaml`);
  writeFileSync(file, text);
  return file;
}

const ONE_SERVER = `servers:
  - listenAddr: "127.0.0.1:8000"
    root: ./data/server0
    nodes: []
`;

/** Loads `text` expecting an E_CONFIG and returns its message. */
function configError(text: string): string {
  const file = writeConfig(text);
  try {
    loadConfig(file);
  } catch (err) {
    expect(err).toBeInstanceOf(DmfsError);
    expect((err as DmfsError).code).toBe("E_CONFIG");
    expect((err as DmfsError).message).toContain(file);
    return (err as DmfsError).message;
  }
  throw new Error(`expected ${file} to be rejected`);
}

describe("loadConfig", () => {
  it("finds each server's node bundle under the cluster dir, or where its bundle: field says", () => {
    const file = writeConfig(`cluster: { dir: ./admin }
servers:
  - { listenAddr: "127.0.0.1:8000", root: ./a }
  - { listenAddr: "127.0.0.1:8001", root: ./b, bundle: ./etc/node-b }
`);
    const config = loadConfig(file);
    expect(nodeBundleDir(config, 0)).toBe(join(workDir, "admin", "nodes", "node-0"));
    expect(nodeBundleDir(config, 1)).toBe(join(workDir, "etc", "node-b"));
  });

  it("reads a server's metricsAddr, and refuses one that is not host:port", () => {
    const config = loadConfig(
      writeConfig(`servers:
  - { listenAddr: "127.0.0.1:8000", root: ./a, metricsAddr: "127.0.0.1:9100" }
  - { listenAddr: "127.0.0.1:8001", root: ./b }
`),
    );
    expect(config.servers.map((s) => s.metricsAddr)).toEqual(["127.0.0.1:9100", undefined]);
    const message = configError(`servers:
  - { listenAddr: "127.0.0.1:8000", root: ./a, metricsAddr: "9100" }
`);
    expect(message).toContain("servers[0].metricsAddr");
  });

  it("loads the demo config: three servers, bootstrap peers on the same host, cluster defaults", () => {
    const file = resolve(import.meta.dirname, "../../demo/config.yaml");
    const demoDir = resolve(import.meta.dirname, "../../demo");
    const config = loadConfig(file);
    expect(config.file).toBe(file);
    expect(config.cluster).toEqual({
      dir: join(demoDir, "cluster"),
      replication: 3,
      writeQuorum: 2,
      chunkSize: 1024 * 1024,
      heartbeatMs: 1000,
      failureTimeoutMs: 5000,
      gcGraceMs: 3_600_000,
      gcIntervalMs: 600_000,
      repairIntervalMs: 30_000,
      tombstoneGraceMs: 7 * 24 * 3_600_000,
      diskReserve: { percent: 5 },
      rebalanceMBps: 100,
    });
    expect(config.servers).toEqual([
      {
        listenAddr: "127.0.0.1:8000",
        host: "127.0.0.1",
        port: 8000,
        root: join(demoDir, "data/server0"),
        nodes: [],
      },
      {
        listenAddr: "127.0.0.1:8001",
        host: "127.0.0.1",
        port: 8001,
        root: join(demoDir, "data/server1"),
        nodes: ["127.0.0.1:8000"],
      },
      {
        listenAddr: "127.0.0.1:8002",
        host: "127.0.0.1",
        port: 8002,
        root: join(demoDir, "data/server2"),
        nodes: ["127.0.0.1:8000", "127.0.0.1:8001"],
      },
    ]);
  });

  it("reads every cluster setting and resolves relative paths against the config file's directory", () => {
    const config = loadConfig(
      writeConfig(`cluster:
  dir: ../shared-cluster
  replication: 5
  writeQuorum: 3
  chunkSize: 256KiB
  heartbeatMs: 200
  failureTimeoutMs: 900
  gcGraceMs: 5000
  gcIntervalMs: 60000
  tombstoneGraceMs: 4000
  diskReserve: 2GiB
  rebalanceMBps: 12.5
servers:
  - listenAddr: "localhost:9000"
    root: /srv/dmfs/a
    nodes: ["127.0.0.2:9001", ":9002"]
    diskReserve: 10%
    capacity: 2T
`),
    );
    expect(config.cluster).toEqual({
      dir: resolve(workDir, "../shared-cluster"),
      replication: 5,
      writeQuorum: 3,
      chunkSize: 256 * 1024,
      heartbeatMs: 200,
      failureTimeoutMs: 900,
      gcGraceMs: 5000,
      gcIntervalMs: 60000,
      repairIntervalMs: 30_000,
      tombstoneGraceMs: 4000,
      diskReserve: { bytes: 2 * 1024 * 1024 * 1024 },
      rebalanceMBps: 12.5,
    });
    expect(config.servers[0]?.diskReserve).toEqual({ percent: 10 });
    expect(config.servers[0]?.capacity).toBe(2 * 2 ** 40);
    expect(config.servers[0]?.root).toBe("/srv/dmfs/a");
    expect(config.servers[0]?.nodes).toEqual(["127.0.0.2:9001", "localhost:9002"]);
  });

  it("accepts chunk sizes as bytes or as KiB/MiB strings within 64KiB..16MiB", () => {
    const chunkSize = (value: string) =>
      loadConfig(writeConfig(`cluster:\n  chunkSize: ${value}\n${ONE_SERVER}`)).cluster.chunkSize;
    expect(chunkSize("65536")).toBe(64 * 1024);
    expect(chunkSize('"1MiB"')).toBe(1024 * 1024);
    expect(chunkSize("16MiB")).toBe(16 * 1024 * 1024);
    expect(chunkSize("512kib")).toBe(512 * 1024);
  });

  it("takes a server's capacity as bytes or with a unit, and names the field of a bad one", () => {
    const capacity = (value: string) =>
      loadConfig(
        writeConfig(`servers:\n  - listenAddr: "127.0.0.1:8000"\n    root: a\n    capacity: ${value}\n`),
      ).servers[0]?.capacity;
    expect(capacity("1048576")).toBe(1024 * 1024);
    expect(capacity("500G")).toBe(500 * 2 ** 30);
    expect(capacity("1.5TiB")).toBe(1.5 * 2 ** 40);
    for (const bad of ["0", "-5", "lots", "12Q"]) {
      expect(
        configError(`servers:\n  - listenAddr: "127.0.0.1:8000"\n    root: a\n    capacity: ${bad}\n`),
      ).toContain("servers[0].capacity");
    }
    expect(configError(`cluster:\n  rebalanceMBps: -1\n${ONE_SERVER}`)).toContain("rebalanceMBps");
  });

  it("takes a server's zone, and names the field of a bad one", () => {
    const server = (zone: string) =>
      `servers:\n  - listenAddr: "127.0.0.1:8000"\n    root: a\n    zone: ${zone}\n`;
    expect(loadConfig(writeConfig(server("room-2"))).servers[0]?.zone).toBe("room-2");
    expect(loadConfig(writeConfig(ONE_SERVER)).servers[0]?.zone).toBeUndefined();
    for (const bad of ['""', '"two words"', "x".repeat(65)]) {
      expect(configError(server(bad))).toContain("servers[0].zone");
    }
  });

  it("uses every default when the cluster section is missing or empty", () => {
    for (const text of [ONE_SERVER, `cluster:\n${ONE_SERVER}`]) {
      const config = loadConfig(writeConfig(text));
      expect(config.cluster.dir).toBe(join(workDir, "cluster"));
      expect(config.cluster.replication).toBe(3);
      expect(config.cluster.writeQuorum).toBe(2);
    }
  });

  it("refuses a disk reserve that is neither a share up to 50% nor a size, naming the field", () => {
    for (const bad of ["60%", "lots", "-1"]) {
      expect(() => loadConfig(writeConfig(`cluster:\n  diskReserve: "${bad}"\n${ONE_SERVER}`))).toThrow(
        /cluster\.diskReserve: must be a share of the disk like "5%"/,
      );
    }
  });

  it("lowers the default write quorum to 1 when replication is 1", () => {
    const config = loadConfig(writeConfig(`cluster:\n  replication: 1\n${ONE_SERVER}`));
    expect(config.cluster.writeQuorum).toBe(1);
  });

  it("treats a missing or empty nodes list as no bootstrap peers and keeps IPv6 hosts bracketed", () => {
    const config = loadConfig(
      writeConfig(`servers:
  - listenAddr: "[::1]:8000"
    root: a
  - listenAddr: "[::1]:8001"
    root: b
    nodes:
  - listenAddr: "127.0.0.1:8002"
    root: c
    nodes: [":8000"]
`),
    );
    expect(config.servers.map((server) => [server.listenAddr, server.host, server.nodes])).toEqual([
      ["[::1]:8000", "::1", []],
      ["[::1]:8001", "::1", []],
      ["127.0.0.1:8002", "127.0.0.1", ["127.0.0.1:8000"]],
    ]);
  });

  it("rejects an address that is not host:port, naming the field", () => {
    const message = configError(`servers:
  - listenAddr: "127.0.0.1:8000"
    root: a
  - listenAddr: "nohost"
    root: b
`);
    expect(message).toContain("servers[1].listenAddr");
    expect(message).toContain("must be host:port");
  });

  it("rejects a listen address without a host, although peers may omit theirs", () => {
    const message = configError(`servers:\n  - listenAddr: ":8000"\n    root: a\n`);
    expect(message).toContain("servers[0].listenAddr: must name its host");
  });

  it("rejects ports outside 1..65535 in listen and peer addresses", () => {
    expect(configError(`servers:\n  - listenAddr: "127.0.0.1:65536"\n    root: a\n`)).toContain(
      "servers[0].listenAddr: port out of range",
    );
    expect(
      configError(`servers:\n  - listenAddr: "127.0.0.1:1"\n    root: a\n    nodes: [":0"]\n`),
    ).toContain("servers[0].nodes[0]: port out of range");
  });

  it("rejects duplicate listen addresses, naming both servers", () => {
    const message = configError(`servers:
  - listenAddr: "127.0.0.1:8000"
    root: a
  - listenAddr: "127.0.0.1:8000"
    root: b
`);
    expect(message).toContain(
      "servers[1].listenAddr: duplicate listenAddr 127.0.0.1:8000 (also servers[0].listenAddr)",
    );
  });

  it("rejects two servers sharing one root, compared after resolving the paths", () => {
    const message = configError(`servers:
  - listenAddr: "127.0.0.1:8000"
    root: data
  - listenAddr: "127.0.0.1:8001"
    root: ./data/
`);
    expect(message).toContain("servers[1].root: duplicate root");
  });

  it("rejects a write quorum larger than the replication factor", () => {
    const message = configError(`cluster:\n  replication: 3\n  writeQuorum: 4\n${ONE_SERVER}`);
    expect(message).toContain("cluster.writeQuorum: writeQuorum 4 exceeds replication 3");
  });

  it("rejects replication and write quorum below 1 or not whole numbers", () => {
    expect(configError(`cluster:\n  replication: 0\n${ONE_SERVER}`)).toContain(
      "cluster.replication: must be at least 1",
    );
    expect(configError(`cluster:\n  writeQuorum: 1.5\n${ONE_SERVER}`)).toContain(
      "cluster.writeQuorum: must be a whole number",
    );
    expect(configError(`cluster:\n  replication: three\n${ONE_SERVER}`)).toContain(
      "cluster.replication: must be",
    );
  });

  it("rejects chunk sizes out of range or in an unknown unit", () => {
    expect(configError(`cluster:\n  chunkSize: 1KiB\n${ONE_SERVER}`)).toContain(
      "cluster.chunkSize: must be between 64KiB and 16MiB",
    );
    expect(configError(`cluster:\n  chunkSize: 32MiB\n${ONE_SERVER}`)).toContain(
      "cluster.chunkSize: must be between 64KiB and 16MiB",
    );
    expect(configError(`cluster:\n  chunkSize: 1MB\n${ONE_SERVER}`)).toContain(
      'cluster.chunkSize: must be a number of bytes or a size like "1MiB"',
    );
  });

  it("rejects a failure timeout that does not exceed the heartbeat interval", () => {
    expect(configError(`cluster:\n  heartbeatMs: 2000\n  failureTimeoutMs: 2000\n${ONE_SERVER}`)).toContain(
      "cluster.failureTimeoutMs: failureTimeoutMs 2000 must exceed heartbeatMs 2000",
    );
  });

  it("rejects unknown fields at every level, naming each one", () => {
    const message = configError(`cluster:
  replicas: 3
servers:
  - listenAddr: "127.0.0.1:8000"
    root: a
    peers: []
extra: true
`);
    expect(message).toContain("cluster.replicas: unknown field");
    expect(message).toContain("servers[0].peers: unknown field");
    expect(message).toContain("extra: unknown field");
  });

  it("rejects fields of the wrong type and a missing or empty server list", () => {
    const message = configError(`servers:\n  - listenAddr: 8000\n    root: a\n    nodes: ":8001"\n`);
    expect(message).toContain("servers[0].listenAddr: must be a string");
    expect(message).toContain("servers[0].nodes: must be a list");
    expect(configError(`servers:\n  - listenAddr: "127.0.0.1:8000"\n`)).toContain(
      "servers[0].root: is required",
    );
    expect(configError("cluster: {}\n")).toContain("servers: is required");
    expect(configError("servers: []\n")).toContain("servers: must list at least 1 entry");
  });

  it("rejects an empty file and a file that is not a mapping", () => {
    expect(configError("")).toContain("the file is empty");
    expect(configError("- a\n- b\n")).toContain("the file must be a mapping");
  });

  it("reports YAML syntax errors with their line", () => {
    const message = configError(`servers:\n  - listenAddr: [1, 2\n    root: a\n`);
    expect(message).toMatch(/YAML syntax error at line 3, column \d+/);
    expect(configError("servers: []\nservers: []\n")).toMatch(/YAML syntax error at line 2.*unique/);
  });

  it("names the file when it cannot be read", () => {
    const missing = join(workDir, "missing.yaml");
    expect(() => loadConfig(missing)).toThrow(
      expect.objectContaining({ code: "E_CONFIG", subject: missing }),
    );
  });
});
