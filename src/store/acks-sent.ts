// The acknowledgements this node sent: after a complete anti-entropy pull from a peer it tells the peer
// "I hold every entry you had stored through this arrival stamp" (catalog.ack), and keeps the latest
// such stamp per peer here, in the same database as the catalog it vouches for. A node that returns
// compares them with its peers' purge horizons (cluster/missed-purges.ts); a database restored from an
// old backup brings its old acknowledgements with it, so it is judged by what it really holds.
import { compareHlc } from "../cluster/hlc.ts";
import type { Hlc } from "../cluster/types.ts";
import type { NodeDatabase } from "./node-database.ts";

/** How stale the recorded time of an unchanged acknowledgement may get before it is written again. */
const RENEW_AFTER_MS = 60_000;

export interface AckSent {
  through: Hlc;
  /** Wall-clock milliseconds when this node sent it: its last contact with that peer. */
  sentAt: number;
}

interface AckRow {
  peer_id: string;
  wall: number;
  logical: number;
  sent_at: number;
}

export class AcksSent {
  private readonly sql;
  private readonly latest = new Map<string, AckSent>();

  constructor(private readonly db: NodeDatabase) {
    this.sql = {
      upsert: db.sqlite.prepare<[AckRow]>(
        `INSERT INTO acks_sent (peer_id, wall, logical, sent_at) VALUES (:peer_id, :wall, :logical, :sent_at)
         ON CONFLICT (peer_id) DO UPDATE SET wall = excluded.wall, logical = excluded.logical, sent_at = excluded.sent_at`,
      ),
      all: db.sqlite.prepare<[], AckRow>("SELECT peer_id, wall, logical, sent_at FROM acks_sent"),
    };
    for (const row of db.read(() => this.sql.all.all())) {
      this.latest.set(row.peer_id, {
        through: { wall: row.wall, logical: row.logical },
        sentAt: row.sent_at,
      });
    }
  }

  /**
   * Records an acknowledgement about to be sent to `peer` (before sending it, so the record never says
   * less than the peer was told). A stamp older than the one kept only renews the time.
   */
  record(peer: string, through: Hlc, sentAt: number): void {
    const before = this.latest.get(peer);
    const kept = before && compareHlc(before.through, through) > 0 ? before.through : through;
    // The same stamp again (nothing new arrived there): the time is renewed once a minute, not each round.
    if (before && compareHlc(before.through, kept) === 0 && sentAt - before.sentAt < RENEW_AFTER_MS) return;
    const row = { peer_id: peer, wall: kept.wall, logical: kept.logical, sent_at: sentAt };
    this.db.write(() => this.sql.upsert.run(row));
    this.latest.set(peer, { through: { ...kept }, sentAt });
  }

  /** The latest stamp acknowledged to each peer. */
  all(): ReadonlyMap<string, AckSent> {
    return this.latest;
  }

  /** When this node last acknowledged anything to any peer; undefined if it never did (a new node). */
  lastContact(): number | undefined {
    let last: number | undefined;
    for (const { sentAt } of this.latest.values()) if (last === undefined || sentAt > last) last = sentAt;
    return last;
  }
}
