// The monitor's connections: a subscription to one node's status stream (the gateway: it gives the
// member list and the states it sees) and one to each other reachable member's own status (its store,
// counters and activity). Every status is folded into a ClusterModel; when the gateway goes away the
// feed moves to another node it knows.
import type { NodeClient } from "../client/node-client.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import {
  applyGatewayStatus,
  applyNodeStatus,
  type ClusterModel,
  emptyModel,
  gatewayConnected,
  gatewayLost,
} from "./cluster-model.ts";

export interface ClusterFeedOptions {
  /** Addresses to try for a gateway first: the config's servers or the one given with --node. */
  seeds: readonly string[];
  /** Connects to the first of `addrs` that answers (NodeClient.connect with the cluster's identity). */
  connect: (addrs: readonly string[]) => Promise<NodeClient>;
  /** Pause before trying an unreachable gateway list or member again. */
  retryMs?: number;
}

/** The model as it changes: what React's useSyncExternalStore needs. */
export interface ModelSource {
  getModel(): ClusterModel;
  subscribe(listener: () => void): () => void;
}

interface MemberLink {
  addr: string;
  client: NodeClient | undefined;
  connecting: boolean;
  /** No new attempt before this time. */
  retryAt: number;
}

const DEFAULT_RETRY_MS = 1_000;

export class ClusterFeed implements ModelSource {
  private model: ClusterModel = emptyModel(Date.now());
  private readonly listeners = new Set<() => void>();
  private gateway: NodeClient | undefined;
  private gatewaySince = 0;
  /** One per member other than the gateway that is not down, by node id. */
  private readonly links = new Map<string, MemberLink>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly retryMs: number;

  constructor(private readonly opts: ClusterFeedOptions) {
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
  }

  getModel = (): ClusterModel => this.model;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Connects to the first seed that answers; rejects with E_UNREACHABLE when none does. */
  async start(): Promise<void> {
    await this.adoptGateway(await this.opts.connect(this.opts.seeds));
  }

  /** Closes every connection and stops retrying. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.gateway?.close();
    this.gateway = undefined;
    for (const link of this.links.values()) link.client?.close();
    this.links.clear();
  }

  private update(step: (model: ClusterModel, now: number) => ClusterModel): void {
    this.model = step(this.model, Date.now());
    for (const listener of this.listeners) listener();
  }

  private async adoptGateway(client: NodeClient): Promise<void> {
    if (this.closed) {
      client.close();
      return;
    }
    this.gateway = client;
    this.gatewaySince = Date.now();
    this.update((m, now) => gatewayConnected(m, { addr: client.addr, nodeId: client.nodeId }, now));
    client.onClose(() => this.onGatewayClosed(client));
    try {
      const first = await client.subscribeStatus((status) => this.onGatewayStatus(client, status));
      this.onGatewayStatus(client, first);
    } catch {
      // A gateway that does not answer is no gateway: closing it starts the move to another node.
      client.close();
    }
  }

  private onGatewayStatus(client: NodeClient, status: NodeStatus): void {
    if (client !== this.gateway) return;
    this.update((m, now) => applyGatewayStatus(m, status, now));
    this.reconcileLinks();
  }

  private onGatewayClosed(client: NodeClient): void {
    if (client !== this.gateway || this.closed) return;
    this.gateway = undefined;
    this.update((m, now) => gatewayLost(m, now));
    // A node that accepts and then drops us at once would otherwise be redialled in a tight loop.
    const pause = Date.now() - this.gatewaySince < this.retryMs ? this.retryMs : 0;
    this.retryTimer = setTimeout(() => void this.findGateway(client.addr), pause);
  }

  /** Tries every known node, the lost gateway last, until one answers; then again after a pause. */
  private async findGateway(lost: string): Promise<void> {
    const { nodes } = this.model;
    const byPreference = [
      ...nodes.filter((n) => n.state === "alive").map((n) => n.addr),
      ...this.opts.seeds,
      ...nodes.map((n) => n.addr),
    ].filter((addr) => addr !== lost);
    try {
      await this.adoptGateway(await this.opts.connect([...new Set([...byPreference, lost])]));
    } catch {
      if (!this.closed) this.retryTimer = setTimeout(() => void this.findGateway(lost), this.retryMs);
    }
  }

  /** Opens links to members that are up and closes links to those that are down, gone or moved. */
  private reconcileLinks(): void {
    const wanted = new Map(
      this.model.nodes.filter((n) => !n.isGateway && n.state !== "down").map((n) => [n.nodeId, n.addr]),
    );
    for (const [nodeId, link] of this.links) {
      if (wanted.get(nodeId) === link.addr) continue;
      link.client?.close();
      this.links.delete(nodeId);
    }
    const now = Date.now();
    for (const [nodeId, addr] of wanted) {
      let link = this.links.get(nodeId);
      if (!link) {
        link = { addr, client: undefined, connecting: false, retryAt: 0 };
        this.links.set(nodeId, link);
      }
      if (!link.client && !link.connecting && now >= link.retryAt) void this.openLink(nodeId, link);
    }
  }

  private async openLink(nodeId: string, link: MemberLink): Promise<void> {
    link.connecting = true;
    let client: NodeClient | undefined;
    try {
      client = await this.opts.connect([link.addr]);
      if (this.closed || this.links.get(nodeId) !== link) {
        client.close();
        return;
      }
      const linked = client;
      link.client = linked;
      linked.onClose(() => {
        if (link.client !== linked) return;
        link.client = undefined;
        link.retryAt = Date.now() + this.retryMs;
      });
      const first = await linked.subscribeStatus((status) => this.onMemberStatus(nodeId, linked, status));
      this.onMemberStatus(nodeId, linked, first);
    } catch {
      client?.close();
      link.retryAt = Date.now() + this.retryMs;
    } finally {
      link.connecting = false;
    }
  }

  private onMemberStatus(nodeId: string, client: NodeClient, status: NodeStatus): void {
    // A status from a link that was replaced, or from another node now at that address, is not this member's.
    if (this.links.get(nodeId)?.client !== client || status.nodeId !== nodeId) return;
    this.update((m, now) => applyNodeStatus(m, status, now));
  }
}
