// What a node learns of its peers' wall clocks from their heartbeats (each ping carries the sender's
// time), so that a node whose own clock runs ahead notices it and stops stamping writes: its stamps
// would be refused by its peers and, kept in its own catalog, would beat later writes made elsewhere.
import { MAX_CLOCK_AHEAD_MS } from "./hlc.ts";

export class PeerClocks {
  /** By peer node id: how far our clock read ahead of theirs at their last heartbeat. */
  private readonly offsets = new Map<string, number>();

  /** `now` is the same wall clock the node's hybrid clock reads. */
  constructor(private readonly now: () => number) {}

  /**
   * Records a peer's wall time. Returns how far it is behind ours when that is newly more than
   * MAX_CLOCK_AHEAD_MS (so the node says so once), else undefined.
   */
  heard(nodeId: string, theirWall: number): number | undefined {
    const offset = this.now() - theirWall;
    const wasBehind = (this.offsets.get(nodeId) ?? 0) > MAX_CLOCK_AHEAD_MS;
    this.offsets.set(nodeId, offset);
    return offset > MAX_CLOCK_AHEAD_MS && !wasBehind ? offset : undefined;
  }

  /**
   * How far this node's clock runs ahead of most of `peers`: the offset that more than half of those
   * heard from exceed, or 0 when most are not behind (or none was heard from).
   */
  aheadOfMost(peers: readonly string[]): number {
    const offsets = peers
      .map((p) => this.offsets.get(p))
      .filter((o): o is number => o !== undefined)
      .sort((a, b) => a - b);
    if (offsets.length === 0) return 0;
    // The largest offset that more than half of the peers reach.
    const reachedByMost = offsets[Math.floor((offsets.length - 1) / 2)] as number;
    return Math.max(0, reachedByMost);
  }
}
