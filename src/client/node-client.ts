// The client's link to its gateway node: mutual TLS with the client certificate, one connection,
// requests multiplexed on it. Used by the CLI, the monitor and the benchmarks.
import type { ClusterIdentity } from "../cluster/cluster-dir.ts";
import { DmfsError } from "../errors.ts";
import { dialNode } from "../node/dial.ts";
import type { Connection, ConnectionCounters, OutgoingRequest } from "../protocol/connection.ts";
import { maxFrameBytesFor } from "../protocol/frame.ts";
import { type Message, type MessageOf, type NodeStatus, PROTOCOL_VERSION } from "../protocol/messages.ts";

export interface NodeClientOptions {
  identity: ClusterIdentity;
  chunkSize: number;
  timeoutMs?: number;
}

export class NodeClient {
  readonly counters: ConnectionCounters = { bytesIn: 0, bytesOut: 0, framesRejected: {} };

  private constructor(
    readonly addr: string,
    readonly nodeId: string,
    private readonly conn: Connection,
  ) {}

  /** Connects to the first of `addrs` that answers; says which ones were tried when none does. */
  static async connect(addrs: readonly string[], opts: NodeClientOptions): Promise<NodeClient> {
    const failures: string[] = [];
    for (const addr of addrs) {
      try {
        return await NodeClient.connectOne(addr, opts);
      } catch (err) {
        failures.push(`${addr} (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    throw new DmfsError("E_UNREACHABLE", `cluster unreachable: no node answered at ${failures.join(", ")}`);
  }

  private static async connectOne(addr: string, opts: NodeClientOptions): Promise<NodeClient> {
    const counters: ConnectionCounters = { bytesIn: 0, bytesOut: 0, framesRejected: {} };
    const { conn, peer } = await dialNode(addr, {
      identity: opts.identity,
      hello: { t: "hello", protocol: PROTOCOL_VERSION, clusterId: opts.identity.clusterId, role: "client" },
      maxFrameBytes: maxFrameBytesFor(opts.chunkSize),
      counters,
      timeoutMs: opts.timeoutMs,
    });
    conn.resume();
    return new NodeClient(addr, peer.nodeId ?? "", conn);
  }

  get closed(): boolean {
    return this.conn.isClosed;
  }

  onClose(listener: (reason: DmfsError | undefined) => void): void {
    this.conn.once("close", listener);
  }

  request<T extends Message["t"]>(
    message: OutgoingRequest,
    expect: T,
    timeoutMs?: number,
  ): Promise<MessageOf<T>> {
    return this.conn.request(message, timeoutMs).then((reply) => {
      if (reply.t !== expect) {
        throw new DmfsError("E_MESSAGE_INVALID", `expected ${expect} from ${this.addr}, got ${reply.t}`);
      }
      return reply as MessageOf<T>;
    });
  }

  async status(): Promise<NodeStatus> {
    return (await this.request({ t: "status", subscribe: false }, "status.reply")).status;
  }

  /** Status now, then every update the node pushes (about once a second) until the connection closes. */
  async subscribeStatus(onUpdate: (status: NodeStatus) => void): Promise<NodeStatus> {
    this.conn.on("message", (m) => {
      if (m.t === "status.update") onUpdate(m.status);
    });
    return (await this.request({ t: "status", subscribe: true }, "status.reply")).status;
  }

  close(): void {
    this.conn.close(undefined);
  }
}
