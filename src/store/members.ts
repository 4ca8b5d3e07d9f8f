// Remembered members: every node this one has heard of, with its address and when it was last seen,
// kept in the node database so a restarted node rejoins the mesh without its bootstrap list.
import { DmfsError } from "../errors.ts";
import type { NodeDatabase } from "./node-database.ts";

export type RememberedMember = { nodeId: string; addr: string; lastSeen: number };

const NODE_ID = /^[0-9a-f]{32}$/;

export class MemberTable {
  private readonly sql;

  constructor(private readonly db: NodeDatabase) {
    this.sql = {
      // Fresher news wins: a late report from an older sighting must not undo a newer address.
      upsert: db.sqlite.prepare<[RememberedMember]>(
        `INSERT INTO members (node_id, addr, last_seen) VALUES (:nodeId, :addr, :lastSeen)
         ON CONFLICT (node_id) DO UPDATE SET addr = excluded.addr, last_seen = excluded.last_seen
         WHERE excluded.last_seen >= members.last_seen`,
      ),
      all: db.sqlite.prepare<[], RememberedMember>(
        "SELECT node_id AS nodeId, addr, last_seen AS lastSeen FROM members ORDER BY node_id",
      ),
      remove: db.sqlite.prepare<[string]>("DELETE FROM members WHERE node_id = ?"),
    };
  }

  /** Records a member, or updates it unless the stored sighting is more recent. */
  upsert(member: RememberedMember): void {
    if (!NODE_ID.test(member.nodeId)) {
      throw new DmfsError("E_MESSAGE_INVALID", `member id ${member.nodeId} is not a node id`, {
        subject: member.nodeId,
      });
    }
    const { nodeId, addr, lastSeen } = member;
    this.db.write(() => this.sql.upsert.run({ nodeId, addr, lastSeen }));
  }

  /** Every remembered member, by node id. */
  all(): RememberedMember[] {
    return this.db.read(() => this.sql.all.all());
  }

  /** Forgets a member; true if it was known. */
  remove(nodeId: string): boolean {
    return this.db.write(() => this.sql.remove.run(nodeId).changes > 0);
  }
}
