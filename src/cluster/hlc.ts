// Hybrid logical clock: stamps that follow wall time closely but never go backwards, so "last writer
// wins" orders a node's own writes correctly even when its wall clock steps back.
import type { Hlc } from "./types.ts";

export const MAX_LOGICAL = 0xffff;

/** Orders two stamps: negative if a is earlier, positive if later, 0 if equal. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wall !== b.wall ? Math.sign(a.wall - b.wall) : Math.sign(a.logical - b.logical);
}

export class HybridClock {
  private last: Hlc = { wall: 0, logical: 0 };

  /** `now` returns wall-clock milliseconds; injected so tests can drive the clock. */
  constructor(private readonly now: () => number) {}

  /** A stamp for a local event, later than every stamp this clock has issued or observed. */
  tick(): Hlc {
    const physical = this.now();
    if (physical > this.last.wall) return this.advance({ wall: physical, logical: 0 });
    return this.advance(successor(this.last));
  }

  /** Takes in a stamp received from a peer; returns a stamp later than both it and every earlier one. */
  observe(remote: Hlc): Hlc {
    const physical = this.now();
    const wall = Math.max(physical, this.last.wall, remote.wall);
    if (wall === physical && wall > this.last.wall && wall > remote.wall) {
      return this.advance({ wall, logical: 0 });
    }
    const latest = compareHlc(remote, this.last) > 0 ? remote : this.last;
    return this.advance(successor(latest));
  }

  private advance(next: Hlc): Hlc {
    this.last = next;
    return { ...next };
  }
}

/** The stamp right after `hlc`; a full counter moves on to the next millisecond. */
function successor(hlc: Hlc): Hlc {
  return hlc.logical < MAX_LOGICAL
    ? { wall: hlc.wall, logical: hlc.logical + 1 }
    : { wall: hlc.wall + 1, logical: 0 };
}
