// The node's side of the layout: the newest CA-signed layout it has seen (kept in `<root>/layout`
// across restarts; a node's bundle may carry one, written by `cluster add-node`), the layout before it
// while a change settles, and placement under them for the gateway and repair. Without a signed layout
// the node places over itself and every member it knows (the implicit version 1).
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomically } from "../cluster/cluster-dir.ts";
import {
  homesIn,
  implicitLayout,
  type Layout,
  newerLayout,
  rankedIn,
  writeTargetsIn,
} from "../cluster/layout.ts";
import { type VerifiedLayout, verifyLayout } from "../crypto/layout-signature.ts";
import type { Logger } from "./logger.ts";

export const LAYOUT_FILE = "layout";

export interface LayoutKeeperOptions {
  root: string;
  /** The node's bundle: a `layout` there (from add-node) counts like one received. */
  bundleDir: string;
  caPem: string;
  clusterId: string;
  replication: number;
  /** This node and every member it knows, for the implicit layout. */
  knownNodeIds: () => string[];
  log: Logger;
}

/** Placement as the gateway and repair use it (a LayoutKeeper, or a fake in unit tests). */
export interface Placement {
  /** The homes of `chunkId` under the newest layout. */
  homes(chunkId: string): string[];
  /** Where a write goes now: alive nodes only. */
  writeTargets(chunkId: string, isAlive: (nodeId: string) => boolean): string[];
  /** Nodes in the order to look for a copy. */
  readOrder(chunkId: string): string[];
}

/** Placement over every node in `nodeIds()`, equally weighted: the implicit layout. */
export function memberPlacement(nodeIds: () => string[], replication: number): Placement {
  const layout = () => implicitLayout("0".repeat(32), nodeIds());
  return {
    homes: (chunkId) => homesIn(layout(), chunkId, replication),
    writeTargets: (chunkId, isAlive) => writeTargetsIn(layout(), chunkId, isAlive, replication),
    readOrder: (chunkId) => rankedIn(layout(), chunkId),
  };
}

export class LayoutKeeper implements Placement {
  private signed: VerifiedLayout | undefined;
  /** The layout before the newest, while the node still writes to its homes too; see `settled`. */
  private previous: Layout | undefined;
  /** Called after a newer layout was verified and stored. */
  onChanged: (layout: Layout) => void = () => {};

  private constructor(private readonly o: LayoutKeeperOptions) {}

  static async open(o: LayoutKeeperOptions): Promise<LayoutKeeper> {
    const keeper = new LayoutKeeper(o);
    for (const file of [join(o.root, LAYOUT_FILE), join(o.bundleDir, LAYOUT_FILE)]) {
      if (!existsSync(file)) continue;
      try {
        const found = verifyLayout(o.caPem, o.clusterId, new Uint8Array(await readFile(file)));
        keeper.signed = keeper.signed ? newerLayout(keeper.signed, found) : found;
      } catch (err) {
        o.log.warn({ file, reason: (err as Error).message }, "ignored a layout file");
      }
    }
    if (keeper.signed) await keeper.store(keeper.signed.bytes);
    return keeper;
  }

  /** The layout placement follows now: the newest signed one, else the implicit one. */
  current(): Layout {
    return this.signed?.layout ?? implicitLayout(this.o.clusterId, this.o.knownNodeIds());
  }

  /** The newest signed layout's bytes (what gossip carries), if there is one. */
  signedBytes(): Uint8Array | undefined {
    return this.signed?.bytes;
  }

  /** Whether the node still also writes to the homes of the layout before the newest. */
  changing(): boolean {
    return this.previous !== undefined;
  }

  /**
   * Takes a signed layout from the admin or from gossip: verified against the CA certificate, stored,
   * then followed, if it is newer than the one held. Throws E_MESSAGE_INVALID for a forged one.
   * Resolves true when it was newer.
   */
  async accept(bytes: Uint8Array): Promise<boolean> {
    if (this.signed && Buffer.compare(this.signed.bytes, bytes) === 0) return false;
    const found = verifyLayout(this.o.caPem, this.o.clusterId, bytes);
    const before = this.current();
    if (this.signed && newerLayout(this.signed, found) === this.signed) return false;
    await this.store(found.bytes);
    this.signed = found;
    this.previous = before;
    this.o.log.info(
      { version: found.layout.version, nodes: found.layout.nodes.length, was: before.version },
      "following a new layout",
    );
    this.onChanged(found.layout);
    return true;
  }

  /** Repair found every chunk this node holds on its homes under the newest layout: stop writing to the old ones. */
  settled(): void {
    if (!this.previous) return;
    this.o.log.info({ version: this.current().version }, "layout change settled here");
    this.previous = undefined;
  }

  /** The homes of `chunkId` under the newest layout. */
  homes(chunkId: string): string[] {
    return homesIn(this.current(), chunkId, this.o.replication);
  }

  /** Where a write goes: the top R alive nodes of the newest layout and, during a change, of the one before. */
  writeTargets(chunkId: string, isAlive: (nodeId: string) => boolean): string[] {
    const targets = writeTargetsIn(this.current(), chunkId, isAlive, this.o.replication);
    if (this.previous) {
      for (const nodeId of writeTargetsIn(this.previous, chunkId, isAlive, this.o.replication)) {
        if (!targets.includes(nodeId)) targets.push(nodeId);
      }
    }
    return targets;
  }

  /** Where to look for a copy first: the homes under the newest layout, then under the one before. */
  readOrder(chunkId: string): string[] {
    const order = rankedIn(this.current(), chunkId);
    for (const nodeId of this.previous ? rankedIn(this.previous, chunkId) : []) {
      if (!order.includes(nodeId)) order.push(nodeId);
    }
    return order;
  }

  private async store(bytes: Uint8Array): Promise<void> {
    const file = join(this.o.root, LAYOUT_FILE);
    await mkdir(dirname(file), { recursive: true });
    await writeFileAtomically(file, bytes, 0o644);
  }
}
