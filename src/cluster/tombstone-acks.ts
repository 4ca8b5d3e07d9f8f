// What each peer has confirmed it holds of this node's catalog: after a complete anti-entropy pull from
// this node, a peer sends back the arrival stamp this node's digests were made at ("catalog.ack"). A
// tombstone stored here at or before the stamp every layout member confirmed is held by all of them (or
// beaten by a newer entry), so purging it here cannot let an older copy of the file come back.
// Kept in memory only: after a restart the next round of anti-entropy (seconds) acknowledges again.
import { compareHlc } from "./hlc.ts";
import type { Hlc } from "./types.ts";

export class TombstoneAcks {
  private readonly through = new Map<string, Hlc>();

  /** `peer` holds every entry this node had stored through `through` (acks only move forward). */
  heard(peer: string, through: Hlc): void {
    const before = this.through.get(peer);
    if (before === undefined || compareHlc(through, before) > 0) this.through.set(peer, { ...through });
  }

  /** The latest arrival stamp every one of `peers` has confirmed; undefined while one has confirmed nothing. */
  commonThrough(peers: readonly string[]): Hlc | undefined {
    let common: Hlc | undefined;
    for (const peer of peers) {
      const acked = this.through.get(peer);
      if (acked === undefined) return undefined;
      if (common === undefined || compareHlc(acked, common) < 0) common = acked;
    }
    return common && { ...common };
  }
}
