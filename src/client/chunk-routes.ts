// Direct data paths (DESIGN.md section 4): a client reads each chunk of a large read straight from a
// node that holds it, and sends each chunk of a large upload straight to its first home (which stores it
// and forwards it to the other homes, acknowledging after W copies as a gateway does), instead of
// through its gateway, which would relay every byte - a second TLS hop plus a hash on a node that holds
// no copy (77 MB/s and 26 CPU-s per GiB against 183 MB/s from a holder, docs/performance.md). The
// routes learn the members and the layout from the gateway, check the layout against the cluster CA,
// and dial the alive members. Until a node's connection is up, or after it failed, its chunks go
// through the gateway as before, so a client that can reach only one node works exactly as it did. The
// node asked serves its own copy, or relays like a gateway when it has none (a layout change under way),
// so a route is only ever a shortcut, never a new way to fail.
import { implicitLayout, type Layout, rankedIn } from "../cluster/layout.ts";
import { verifyLayout } from "../crypto/layout-signature.ts";
import type { NodeClient } from "./node-client.ts";

export interface ChunkRoutesOptions {
  /** The cluster CA certificate (PEM), which signs layouts. */
  caPem: string;
  clusterId: string;
  /** Connects to a node; rejects when it does not answer. */
  dial: (addr: string) => Promise<NodeClient>;
}

export class ChunkRoutes {
  /** Connections that are up, by node id. */
  readonly #peers = new Map<string, NodeClient>();
  #layout: Layout | undefined;
  #closed = false;

  constructor(
    private readonly gateway: NodeClient,
    private readonly o: ChunkRoutesOptions,
  ) {}

  /**
   * Learns the layout and the alive members from the gateway and dials them. Resolves once every dial
   * settled; routes are usable (and fall back to the gateway) at any time before that.
   */
  async discover(): Promise<void> {
    const [status, layoutReply] = await Promise.all([
      this.gateway.status(),
      this.gateway.request({ t: "layout.get" }, "layout.reply"),
    ]);
    const memberIds = [status.nodeId, ...status.members.map((m) => m.nodeId)];
    this.#layout = layoutReply.layout
      ? verifyLayout(this.o.caPem, this.o.clusterId, layoutReply.layout).layout
      : implicitLayout(this.o.clusterId, memberIds);
    const alive = status.members.filter((m) => m.state === "alive" && m.nodeId !== this.gateway.nodeId);
    await Promise.allSettled(alive.map((m) => this.connect(m.nodeId, m.addr)));
  }

  /**
   * The connection to ask for `chunkId`: the best-ranked node under the layout whose connection is up and
   * which is not in `exclude`; the gateway when that is the gateway itself, or when none is up.
   */
  via(chunkId: string, exclude: readonly string[] = []): NodeClient {
    if (!this.#layout || this.#peers.size === 0) return this.gateway;
    for (const nodeId of rankedIn(this.#layout, chunkId)) {
      if (exclude.includes(nodeId)) continue;
      if (nodeId === this.gateway.nodeId) return this.gateway;
      const peer = this.#peers.get(nodeId);
      if (peer && !peer.closed) return peer;
    }
    return this.gateway;
  }

  /** Stops using a connection that failed a request; its chunks go elsewhere from now on. */
  drop(peer: NodeClient): void {
    if (peer === this.gateway) return;
    this.#peers.delete(peer.nodeId);
    peer.close();
  }

  /** How many direct connections are up (for tests and the bench). */
  get directPeers(): number {
    return this.#peers.size;
  }

  close(): void {
    this.#closed = true;
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
  }

  private async connect(nodeId: string, addr: string): Promise<void> {
    const peer = await this.o.dial(addr);
    // A node answering at an address as another node (a restart on a new id, a stale member list) is not
    // the node ranked there: reading from it would only make it relay.
    if (this.#closed || peer.nodeId !== nodeId) {
      peer.close();
      return;
    }
    peer.onClose(() => {
      if (this.#peers.get(nodeId) === peer) this.#peers.delete(nodeId);
    });
    this.#peers.set(nodeId, peer);
  }
}
