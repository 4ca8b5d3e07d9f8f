// CPU time the processes of an end-to-end case used (Linux /proc/<pid>/stat: user + system time of all
// their threads). Set against the bytes moved it gives what the machine's cores could do at that cost
// if nothing else ran, which a figure measured on a busy machine can be compared with.
import { readFileSync } from "node:fs";

/** /proc reports times in USER_HZ ticks, which Linux fixes at 100 per second for user space. */
const USER_HZ = 100;
// Fields after "pid (comm) ": state is the first, utime the 12th, stime the 13th (proc(5) fields 3, 14, 15).
const UTIME_INDEX = 11;
const STIME_INDEX = 12;

/** User + system CPU seconds process `pid` has used so far, all threads; null without /proc. */
export function cpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[UTIME_INDEX]) + Number(fields[STIME_INDEX]);
  return Number.isFinite(ticks) ? ticks / USER_HZ : null;
}

export class CpuMeter {
  readonly #startedAt = new Map<string, number | null>();

  /** `processes` maps a name ("client", "node-0") to its pid. */
  constructor(private readonly processes: ReadonlyMap<string, number>) {}

  start(): void {
    for (const [name, pid] of this.processes) this.#startedAt.set(name, cpuSeconds(pid));
  }

  /** CPU seconds each process used since `start` (null when it could not be read). */
  stop(): Map<string, number | null> {
    const used = new Map<string, number | null>();
    for (const [name, pid] of this.processes) {
      const before = this.#startedAt.get(name);
      const now = cpuSeconds(pid);
      used.set(name, before === null || before === undefined || now === null ? null : now - before);
    }
    return used;
  }
}
