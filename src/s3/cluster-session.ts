// The gateway's link to the cluster, kept up for as long as `dmfs s3` runs: a FileClient over one gateway
// node, made again on the next request once that node's connection closed (the node restarted, the network
// dropped), trying every known node in turn. A request that finds no node answers 503 (E_UNREACHABLE).
import type { FileClient } from "../client/file-client.ts";
import type { NodeClient } from "../client/node-client.ts";

interface Link {
  gateway: NodeClient;
  files: FileClient;
}

export class ClusterSession {
  #current: Promise<Link> | undefined;

  constructor(
    private readonly connect: () => Promise<NodeClient>,
    private readonly filesOver: (gateway: NodeClient) => FileClient,
  ) {}

  /** The FileClient over a live connection, connecting (again) when there is none. */
  async files(): Promise<FileClient> {
    return (await this.link()).files;
  }

  /** The node the gateway talks to now. */
  async nodeId(): Promise<string> {
    return (await this.link()).gateway.nodeId;
  }

  close(): void {
    void this.#current?.then(
      (link) => {
        link.files.close();
        link.gateway.close();
      },
      () => undefined,
    );
    this.#current = undefined;
  }

  private async link(): Promise<Link> {
    const pending = this.#current;
    if (pending) {
      const link = await pending.catch(() => undefined);
      if (link && !link.gateway.closed) return link;
      link?.files.close(); // its direct read connections
      // Only the first caller to see the dead link replaces it; the others share the new one.
      if (this.#current !== pending) return this.link();
    }
    const next = this.connect().then((gateway) => ({ gateway, files: this.filesOver(gateway) }));
    this.#current = next;
    return next;
  }
}
