// A node back from an absence. A node that has acknowledged catalogs to peers before (acks-sent.ts) is
// "returning" when it starts: until it has heard one peer's purge horizon it offers no catalog entries
// to anyone. If that peer purged tombstones this node never acknowledged (cluster/missed-purges.ts),
// the node turns read-only: it takes no new copies (its heartbeat says so, as a full disk's does),
// merges, offers, purges and collects nothing, accepts no catalog writes and serves no catalog reads
// (its catalog may hold files deleted meanwhile), keeps serving chunk reads, and says why in one
// sentence. The verdict is kept in <root>/read-only, so a restart stays read-only; rejoining is
// `dmfs node remove` plus `dmfs cluster add-node`, which gives the root a new identity and an empty
// catalog (rejoin.ts).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomically } from "../cluster/cluster-dir.ts";
import { type CatalogStanding, judge, standingAtStart } from "../cluster/missed-purges.ts";
import type { Hlc } from "../cluster/types.ts";
import { DmfsError } from "../errors.ts";
import type { AcksSent } from "../store/acks-sent.ts";
import { formatTimeSpan } from "../time-span.ts";
import type { Logger } from "./logger.ts";

export const READ_ONLY_FILE = "read-only";

/** What <root>/read-only holds: which node turned read-only, when, and on whose word. */
export interface ReadOnlyRecord {
  v: 1;
  nodeId: string;
  since: number;
  /** The peer that had purged tombstones this node never acknowledged. */
  peer: string;
  /** When this node last acknowledged a catalog to any peer. */
  lastContact: number | null;
}

export interface AbsenceOptions {
  root: string;
  nodeId: string;
  acks: AcksSent;
  log: Logger;
  /** Whether the newest layout names this node: the sentence says whether to remove it first. */
  inLayout: () => boolean;
  /** The node rejoined with its catalog dropped: garbage collection waits for a complete pull. */
  rejoined?: boolean;
  now?: () => number;
  /** Called once when the node turns read-only. */
  onReadOnly?: () => void;
}

export class Absence {
  private standingNow: CatalogStanding;
  private caughtUpSinceRejoin: boolean;
  private readonly now: () => number;

  private constructor(
    private readonly o: AbsenceOptions,
    private record: ReadOnlyRecord | undefined,
  ) {
    this.now = o.now ?? Date.now;
    this.standingNow = standingAtStart(o.acks.all().size, record !== undefined);
    this.caughtUpSinceRejoin = !o.rejoined;
  }

  /** Reads <root>/read-only (a record about another node id - the root was re-added - does not count). */
  static async open(o: AbsenceOptions): Promise<Absence> {
    const record = await readRecord(o.root);
    const absence = new Absence(o, record?.nodeId === o.nodeId ? record : undefined);
    if (absence.readOnly) o.log.warn({}, absence.sentence() as string);
    return absence;
  }

  get standing(): CatalogStanding {
    return this.standingNow;
  }

  get readOnly(): boolean {
    return this.standingNow === "stale";
  }

  /** Why the node is read-only and how to rejoin it, while it is; undefined otherwise. */
  sentence(): string | undefined {
    const r = this.record;
    if (!r) return undefined;
    const away = r.lastContact === null ? "" : ` for ${formatTimeSpan((this.now() - r.lastContact) / 1000)}`;
    const rejoin = this.o.inLayout()
      ? `run \`dmfs node remove ${r.nodeId.slice(0, 8)}\` and add it again with \`dmfs cluster add-node\` to rejoin`
      : "it is out of the layout already: add it again with `dmfs cluster add-node` and start it from the new bundle on this root to rejoin";
    return `read-only: this node was out of contact with the cluster${away}, and meanwhile node ${r.peer.slice(0, 8)} purged tombstones it never received, so its catalog may still hold files deleted meanwhile; ${rejoin}`;
  }

  /**
   * A peer's purge horizon, from its digest reply: the first one heard settles a returning node's
   * standing. Resolves to the standing after it (once a read-only verdict is on disk).
   */
  async heard(peer: string, purgedThrough: Hlc | null | undefined): Promise<CatalogStanding> {
    const before = this.standingNow;
    this.standingNow = judge(before, this.o.acks.all(), { peer, purgedThrough });
    if (before === "deciding" && this.standingNow === "stale") {
      this.record = {
        v: 1,
        nodeId: this.o.nodeId,
        since: this.now(),
        peer,
        lastContact: this.o.acks.lastContact() ?? null,
      };
      this.o.log.warn({ peer: peer.slice(0, 8) }, this.sentence() as string);
      await writeFileAtomically(join(this.o.root, READ_ONLY_FILE), JSON.stringify(this.record), 0o644);
      this.o.onReadOnly?.();
    } else if (before === "deciding") {
      this.o.log.info(
        { peer: peer.slice(0, 8) },
        "catalog current: the first peer heard purged nothing this node missed",
      );
    }
    return this.standingNow;
  }

  /** Records the acknowledgement about to be sent to `peer` after a complete pull from it. */
  acknowledged(peer: string, through: Hlc): void {
    this.o.acks.record(peer, through, this.now());
    this.caughtUpSinceRejoin = true;
  }

  /** Why garbage collection must delete nothing now, or undefined when it may. */
  collectionHeldBack(): string | undefined {
    if (this.readOnly) return "this node is read-only: its catalog is not the cluster's";
    if (!this.caughtUpSinceRejoin) return "this node rejoined and has not yet pulled the cluster's catalog";
    return undefined;
  }

  /** Throws while read-only: catalog writes and reads, uploads. */
  refuseIfReadOnly(): void {
    if (this.readOnly)
      throw new DmfsError("E_NODE_READ_ONLY", `node ${this.o.nodeId.slice(0, 8)} is ${this.sentence()}`);
  }

  /** Throws until the node's catalog is known current: what peers pull from it. */
  refuseUntilCurrent(): void {
    this.refuseIfReadOnly();
    if (this.standingNow === "deciding") {
      throw new DmfsError(
        "E_NODE_READ_ONLY",
        `node ${this.o.nodeId.slice(0, 8)} has just returned and offers no catalog entries until it has compared its catalog with a peer's`,
      );
    }
  }
}

async function readRecord(root: string): Promise<ReadOnlyRecord | undefined> {
  const file = join(root, READ_ONLY_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const record = JSON.parse(await readFile(file, "utf8")) as ReadOnlyRecord;
    if (record.v === 1 && typeof record.nodeId === "string" && typeof record.peer === "string") return record;
  } catch {
    // Unreadable: still read-only (below), never silently writable again.
  }
  throw new DmfsError(
    "E_IO",
    `${file} is malformed; it marks this node read-only: restore it, or rejoin the node with \`dmfs node remove\` and \`dmfs cluster add-node\``,
    { subject: file },
  );
}
