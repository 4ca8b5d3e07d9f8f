// Log lines for refused connections, aggregated by source: the first refusal from an address is
// logged at once with its reason; later ones within the interval are only counted, and one line at
// its end says how many there were and why. Anyone who can reach the port can make connections fail,
// so without this a loop of connect-and-drop would fill the node's log.

/** Where refusals come from beyond this many, they are summed under one source ("other"). */
const MAX_SOURCES = 256;

export type RejectionLogLine = (fields: Record<string, unknown>, msg: string) => void;

interface Window {
  /** Refusals after the one that opened the window, by reason. */
  later: Record<string, number>;
  count: number;
  lastDetail: string;
}

export class RejectionLog {
  readonly #windows = new Map<string, Window>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly write: RejectionLogLine,
    private readonly intervalMs = 10_000,
  ) {
    this.#timer = setInterval(() => this.flush(), intervalMs);
    this.#timer.unref();
  }

  /** One refused connection from `source` (an IP address), with its reason code and the detail. */
  note(source: string, reason: string, detail: string): void {
    const key = this.#windows.has(source) || this.#windows.size < MAX_SOURCES ? source : "other";
    const window = this.#windows.get(key);
    if (window === undefined) {
      this.#windows.set(key, { later: {}, count: 0, lastDetail: detail });
      this.write({ source: key, reason, detail }, "refused a connection");
      return;
    }
    window.later[reason] = (window.later[reason] ?? 0) + 1;
    window.count += 1;
    window.lastDetail = detail;
  }

  /**
   * Ends the interval: one line per source with refusals since its first line, whose window stays open
   * for the next interval; a source that sent none is forgotten, so its next refusal is logged at once.
   */
  flush(): void {
    for (const [source, window] of this.#windows) {
      if (window.count === 0) {
        this.#windows.delete(source);
        continue;
      }
      this.write(
        { source, count: window.count, reasons: window.later, lastDetail: window.lastDetail },
        `refused ${window.count} more connections in the last ${Math.round(this.intervalMs / 1000)} s`,
      );
      this.#windows.set(source, { later: {}, count: 0, lastDetail: "" });
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}
