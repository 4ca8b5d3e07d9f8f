// Hybrid logical clock: stamps that follow wall time closely but never go backwards, so "last writer
// wins" orders a node's own writes correctly even when its wall clock steps back.
import { DmfsError } from "../errors.ts";
import type { Hlc } from "./types.ts";

export const MAX_LOGICAL = 0xffff;

/**
 * How far ahead of this node's wall clock a peer's stamp may be. Taking a stamp further ahead would
 * let it win last-writer-wins against every write made here until real time caught up with it, and
 * would drag this clock (and so every later stamp) up to it; such stamps are refused instead.
 */
export const MAX_CLOCK_AHEAD_MS = 60_000;

/** Orders two stamps: negative if a is earlier, positive if later, 0 if equal. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wall !== b.wall ? Math.sign(a.wall - b.wall) : Math.sign(a.logical - b.logical);
}

export class HybridClock {
  private last: Hlc;

  /**
   * `now` returns wall-clock milliseconds; injected so tests can drive the clock. `after` is the latest
   * stamp this node already stored (its own catalog, trusted however far ahead): stamps come after it.
   */
  constructor(
    private readonly now: () => number,
    after: Hlc = { wall: 0, logical: 0 },
  ) {
    this.last = { ...after };
  }

  /** A stamp for a local event, later than every stamp this clock has issued or observed. */
  tick(): Hlc {
    const physical = this.now();
    if (physical > this.last.wall) return this.advance({ wall: physical, logical: 0 });
    return this.advance(successor(this.last));
  }

  /**
   * Takes in a stamp received from a peer; returns a stamp later than both it and every earlier one.
   * A stamp more than MAX_CLOCK_AHEAD_MS ahead of the wall clock is refused (E_CLOCK_AHEAD) and
   * leaves the clock as it was.
   */
  observe(remote: Hlc): Hlc {
    const physical = this.now();
    refuseIfAhead(remote, physical);
    const wall = Math.max(physical, this.last.wall, remote.wall);
    if (wall === physical && wall > this.last.wall && wall > remote.wall) {
      return this.advance({ wall, logical: 0 });
    }
    const latest = compareHlc(remote, this.last) > 0 ? remote : this.last;
    return this.advance(successor(latest));
  }

  /** Observes every stamp, or none: one that is too far ahead refuses them all (E_CLOCK_AHEAD). */
  observeAll(remotes: readonly Hlc[]): void {
    const physical = this.now();
    for (const remote of remotes) refuseIfAhead(remote, physical);
    for (const remote of remotes) this.observe(remote);
  }

  /** Whether a peer's stamp is close enough to this clock's wall time to be taken in. */
  accepts(remote: Hlc): boolean {
    return remote.wall - this.now() <= MAX_CLOCK_AHEAD_MS;
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

function refuseIfAhead(remote: Hlc, physical: number): void {
  const ahead = remote.wall - physical;
  if (ahead <= MAX_CLOCK_AHEAD_MS) return;
  throw new DmfsError(
    "E_CLOCK_AHEAD",
    `a clock stamp ${Math.round(ahead / 1000)} s ahead of this node's clock was refused (at most ${MAX_CLOCK_AHEAD_MS / 1000} s ahead is accepted)`,
  );
}
