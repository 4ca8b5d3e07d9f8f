import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect as connectTcp, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConnectionOptions,
  connect as connectTls,
  createServer,
  type PeerCertificate,
  type Server,
  type TLSSocket,
} from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ClusterIdentity,
  initCluster,
  loadIdentity,
  loadNodeBundle,
} from "../../src/cluster/cluster-dir.ts";
import { type CertificateRole, issueCertificate } from "../../src/crypto/certificates.ts";
import { clientOptions, peerRole, serverOptions } from "../../src/protocol/tls.ts";

const EVENT_DEADLINE_MS = 5000;

let workDir: string;
let nodeServer: ClusterIdentity;
let nodePeer: ClusterIdentity;
let clusterClient: ClusterIdentity;
let foreignClient: ClusterIdentity;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "dmfs-tls-"));
  const dir = join(workDir, "cluster");
  await initCluster({ dir, nodes: 2 });
  nodeServer = await loadNodeBundle(join(dir, "nodes", "node-0"));
  nodePeer = await loadNodeBundle(join(dir, "nodes", "node-1"));
  clusterClient = await loadIdentity(dir, "client");
  foreignClient = await loadIdentity(
    (await initCluster({ dir: join(workDir, "other-cluster"), nodes: 1 })).dir,
    "client",
  );
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** A TLS server with serverOptions() that records what it saw of each connection. */
interface RecordingServer {
  server: Server;
  port: number;
  accepted: { role: CertificateRole | null; authorized: boolean }[];
  clientErrors: Error[];
}

const openServers: Server[] = [];
const openSockets: Socket[] = [];

afterEach(async () => {
  for (const socket of openSockets.splice(0)) socket.destroy();
  await Promise.all(openServers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

async function startServer(identity: ClusterIdentity): Promise<RecordingServer> {
  const server = createServer(serverOptions(identity));
  openServers.push(server);
  const recording: RecordingServer = { server, port: 0, accepted: [], clientErrors: [] };
  server.on("secureConnection", (socket: TLSSocket) => {
    openSockets.push(socket);
    recording.accepted.push({ role: peerRole(socket), authorized: socket.authorized });
    socket.end("welcome");
  });
  server.on("tlsClientError", (err) => recording.clientErrors.push(err));
  server.listen(0, "127.0.0.1");
  await once(server, "listening", { signal: AbortSignal.timeout(EVENT_DEADLINE_MS) });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  recording.port = address.port;
  return recording;
}

/** Connects and resolves once the handshake completed, with the bytes the server then sent. */
async function connectAndRead(
  port: number,
  options: ConnectionOptions,
): Promise<{ role: string | null; data: string }> {
  const socket = connectTls({ ...options, host: "127.0.0.1", port });
  openSockets.push(socket);
  await once(socket, "secureConnect", { signal: AbortSignal.timeout(EVENT_DEADLINE_MS) });
  const role = peerRole(socket);
  let data = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    data += chunk;
  });
  await once(socket, "end", { signal: AbortSignal.timeout(EVENT_DEADLINE_MS) });
  return { role, data };
}

/** Connects and resolves when the socket has closed, with the error it reported, if any. */
async function connectUntilClosed(port: number, options: ConnectionOptions): Promise<Error | undefined> {
  const socket = connectTls({ ...options, host: "127.0.0.1", port });
  openSockets.push(socket);
  socket.resume();
  // Not events.once: it would reject on the "error" event this helper wants to report.
  return await new Promise((resolve, reject) => {
    let failure: Error | undefined;
    const deadline = setTimeout(
      () => reject(new Error("timed out waiting for the socket to close")),
      EVENT_DEADLINE_MS,
    );
    socket.on("error", (err) => {
      failure = err;
    });
    socket.on("close", () => {
      clearTimeout(deadline);
      resolve(failure);
    });
  });
}

/** Polls until `condition` holds, failing after the deadline. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + EVENT_DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("mutual TLS between cluster members", () => {
  it("lets a node connect and shows each side the other's role", async () => {
    const recording = await startServer(nodeServer);
    const seen = await connectAndRead(recording.port, clientOptions(nodePeer));
    expect(seen).toEqual({ role: "node", data: "welcome" });
    expect(recording.accepted).toEqual([{ role: "node", authorized: true }]);
  });

  it("lets a client connect and shows the server it is a client", async () => {
    const recording = await startServer(nodeServer);
    const seen = await connectAndRead(recording.port, clientOptions(clusterClient));
    expect(seen).toEqual({ role: "node", data: "welcome" });
    expect(recording.accepted).toEqual([{ role: "client", authorized: true }]);
  });

  it("negotiates TLS 1.3", async () => {
    const recording = await startServer(nodeServer);
    const socket = connectTls({ ...clientOptions(clusterClient), host: "127.0.0.1", port: recording.port });
    openSockets.push(socket);
    await once(socket, "secureConnect", { signal: AbortSignal.timeout(EVENT_DEADLINE_MS) });
    expect(socket.getProtocol()).toBe("TLSv1.3");
  });

  it("rejects a client whose certificate comes from another cluster's CA", async () => {
    const recording = await startServer(nodeServer);
    // It trusts our CA, so only the server's check of its certificate can stop it.
    const failure = await connectUntilClosed(recording.port, {
      ...clientOptions(foreignClient),
      ca: nodeServer.ca,
    });
    await waitFor(() => recording.clientErrors.length > 0, "the server to report the handshake failure");
    expect(failure).toBeDefined();
    expect(recording.accepted).toEqual([]);
  });

  it("rejects a client that presents no certificate", async () => {
    const recording = await startServer(nodeServer);
    const failure = await connectUntilClosed(recording.port, {
      ca: nodeServer.ca,
      minVersion: "TLSv1.3",
      checkServerIdentity: () => undefined,
    });
    await waitFor(() => recording.clientErrors.length > 0, "the server to report the handshake failure");
    expect(failure).toBeDefined();
    expect(recording.accepted).toEqual([]);
  });

  it("refuses TLS 1.2", async () => {
    const recording = await startServer(nodeServer);
    const failure = await connectUntilClosed(recording.port, {
      ...clientOptions(clusterClient),
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
    });
    expect(failure).toBeDefined();
    await waitFor(() => recording.clientErrors.length > 0, "the server to report the handshake failure");
    expect(recording.accepted).toEqual([]);
  });

  it("drops a plain TCP client sending garbage and keeps serving others", async () => {
    const recording = await startServer(nodeServer);
    const plain = connectTcp({ host: "127.0.0.1", port: recording.port });
    openSockets.push(plain);
    plain.on("error", () => {});
    plain.resume();
    await once(plain, "connect", { signal: AbortSignal.timeout(EVENT_DEADLINE_MS) });
    plain.write("GET / HTTP/1.1\r\nHost: nowhere\r\n\r\n\u0000\u00ff garbage");
    await once(plain, "close", { signal: AbortSignal.timeout(EVENT_DEADLINE_MS) });
    await waitFor(() => recording.clientErrors.length > 0, "the server to report the bad client");
    expect(recording.accepted).toEqual([]);

    const seen = await connectAndRead(recording.port, clientOptions(clusterClient));
    expect(seen.data).toBe("welcome");
    expect(recording.accepted).toEqual([{ role: "client", authorized: true }]);
  });

  it("refuses to talk to a server presenting a client certificate", async () => {
    const impostor = await startServer(clusterClient);
    const failure = await connectUntilClosed(impostor.port, clientOptions(nodePeer));
    // OpenSSL already stops it: a client certificate lacks the serverAuth extended key usage.
    expect(failure).toMatchObject({ code: "INVALID_PURPOSE" });
    expect(impostor.accepted).toEqual([]);
  });

  it("accepts as server identity only certificates whose role is node and cluster is ours", () => {
    const check = clientOptions(nodePeer).checkServerIdentity;
    const cluster = `dmfs-${nodePeer.clusterId}`;
    const subject = (OU: string, O: string) =>
      ({ subject: { CN: "x", OU, O } }) as unknown as PeerCertificate;
    expect(check?.("127.0.0.1", subject("dmfs-node", cluster))).toBeUndefined();
    expect(check?.("127.0.0.1", subject("dmfs-client", cluster))).toMatchObject({ code: "E_UNAUTHORIZED" });
    expect(check?.("127.0.0.1", subject("dmfs-node", "dmfs-feed"))).toMatchObject({ code: "E_UNAUTHORIZED" });
  });

  it("refuses a node certificate from our CA that names another cluster", async () => {
    const ourCa = { cert: nodeServer.ca, key: await readFile(join(workDir, "cluster", "ca.key"), "utf8") };
    const strayId = "feedfacefeedfacefeedfacefeedface";
    const stray = await issueCertificate(ourCa, { clusterId: strayId, role: "node", name: "node-9" });
    const recording = await startServer({ clusterId: strayId, ca: nodeServer.ca, ...stray });
    const failure = await connectUntilClosed(recording.port, clientOptions(nodePeer));
    expect(failure).toMatchObject({ code: "E_UNAUTHORIZED" });
    expect((failure as Error).message).toContain("another cluster");
  });

  it("refuses a server whose certificate another CA signed", async () => {
    const foreignNode = await loadNodeBundle(join(workDir, "other-cluster", "nodes", "node-0"));
    const recording = await startServer({ ...foreignNode, ca: nodeServer.ca });
    const failure = await connectUntilClosed(recording.port, clientOptions(nodePeer));
    expect(failure).toBeDefined();
    expect(failure).not.toMatchObject({ code: "E_UNAUTHORIZED" });
  });
});
