// Opening a link to a node: TCP, mutual TLS 1.3 against the cluster CA, then hellos both ways.
// Used by peer links (as a node) and by the client library (as a client).
import { connect, type TLSSocket } from "node:tls";
import type { ClusterIdentity } from "../cluster/cluster-dir.ts";
import { DmfsError } from "../errors.ts";
import { Connection, type ConnectionCounters, exchangeHello } from "../protocol/connection.ts";
import { type Hello, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { clientOptions } from "../protocol/tls.ts";
import { splitHostPort } from "./address.ts";
import type { CertificateBindings } from "./certificate-bindings.ts";

export interface DialOptions {
  identity: ClusterIdentity;
  hello: Hello;
  maxFrameBytes: number;
  counters: ConnectionCounters;
  timeoutMs?: number;
  /** Nodes pass their revocation check: false refuses the server's certificate. */
  admit?: (socket: TLSSocket) => boolean;
  /** A node dialling a node: one certificate, one node (checked at hello, held while connected). */
  bindings?: CertificateBindings;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export async function dialNode(addr: string, opts: DialOptions): Promise<{ conn: Connection; peer: Hello }> {
  const { host, port } = splitHostPort(addr);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ ...clientOptions(opts.identity), host, port, timeout: timeoutMs });
    const fail = (err: Error) => {
      s.destroy();
      reject(
        new DmfsError("E_UNREACHABLE", `cannot connect to ${addr}: ${err.message}`, {
          subject: addr,
          cause: err,
        }),
      );
    };
    s.once("secureConnect", () => {
      s.off("error", fail);
      s.setTimeout(0);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once("error", fail);
    s.once("timeout", () => fail(new Error(`no answer in ${timeoutMs} ms`)));
  });
  if (opts.admit && !opts.admit(socket)) {
    socket.destroy();
    throw new DmfsError("E_REVOKED", `the certificate of the node at ${addr} is revoked`, { subject: addr });
  }
  const conn = new Connection(socket, {
    peerRole: "node",
    maxFrameBytes: opts.maxFrameBytes,
    counters: opts.counters,
  });
  const log = opts.log ?? (() => undefined);
  const peer = await exchangeHello(
    conn,
    opts.hello,
    (theirs) =>
      checkHello(opts.hello, theirs, "node") ?? opts.bindings?.bindConnection(conn, socket, theirs, log),
  ).catch((err: unknown) => {
    opts.bindings?.noteDialFailed(addr, err, log);
    throw err;
  });
  opts.bindings?.noteDialed(addr);
  return { conn, peer };
}

/** Why a peer's hello is not acceptable, or undefined when it is. */
export function checkHello(mine: Hello, theirs: Hello, expectedRole: "node" | "client"): string | undefined {
  if (theirs.protocol !== PROTOCOL_VERSION) {
    return `protocol version ${theirs.protocol} is not supported (this side speaks ${PROTOCOL_VERSION})`;
  }
  if (theirs.clusterId !== mine.clusterId) {
    return `cluster id ${theirs.clusterId} does not match this cluster ${mine.clusterId}`;
  }
  if (theirs.role !== expectedRole) {
    return `peer says it is a ${theirs.role} but its certificate is for a ${expectedRole}`;
  }
  return undefined;
}
