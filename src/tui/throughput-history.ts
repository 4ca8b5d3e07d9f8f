// Cluster traffic per wall-clock second, for the monitor's sparklines. Traffic reported over an interval
// is spread over the seconds it covers, so statuses that arrive a little early or late give a smooth line.

/** Seconds of history kept: as many as the widest sparkline shows. */
export const KEEP_SECONDS = 120;

export interface SecondBucket {
  readonly second: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Buckets in ascending order of `second`; seconds without traffic have no bucket. */
export type ThroughputHistory = readonly SecondBucket[];

export interface ThroughputSeries {
  /** Bytes per second, oldest first, one value per second up to the last complete second. */
  bytesIn: number[];
  bytesOut: number[];
}

/** Adds `bytesIn`/`bytesOut` that flowed between `fromMs` and `toMs`, in proportion to each second's share. */
export function addTraffic(
  history: ThroughputHistory,
  fromMs: number,
  toMs: number,
  bytesIn: number,
  bytesOut: number,
): ThroughputHistory {
  if (!(toMs > fromMs) || (bytesIn <= 0 && bytesOut <= 0)) return history;
  const byS = new Map(history.map((b) => [b.second, b]));
  const lastSecond = Math.floor((toMs - 1) / 1000);
  // Seconds older than the kept window would be dropped below anyway; skipping them bounds the loop.
  const firstSecond = Math.max(Math.floor(fromMs / 1000), lastSecond - KEEP_SECONDS + 1);
  const span = toMs - fromMs;
  for (let s = firstSecond; s <= lastSecond; s++) {
    const share = (Math.min(toMs, (s + 1) * 1000) - Math.max(fromMs, s * 1000)) / span;
    const old = byS.get(s);
    byS.set(s, {
      second: s,
      bytesIn: (old?.bytesIn ?? 0) + bytesIn * share,
      bytesOut: (old?.bytesOut ?? 0) + bytesOut * share,
    });
  }
  const newest = Math.max(lastSecond, history.at(-1)?.second ?? lastSecond);
  return [...byS.values()]
    .filter((b) => b.second > newest - KEEP_SECONDS)
    .sort((a, b) => a.second - b.second);
}

/** The last `seconds` complete seconds before `nowMs`, with zero for seconds without traffic. */
export function recentSeries(history: ThroughputHistory, nowMs: number, seconds: number): ThroughputSeries {
  const last = Math.floor(nowMs / 1000) - 1;
  const first = last - seconds + 1;
  const series: ThroughputSeries = {
    bytesIn: new Array(seconds).fill(0),
    bytesOut: new Array(seconds).fill(0),
  };
  for (const b of history) {
    if (b.second < first || b.second > last) continue;
    series.bytesIn[b.second - first] = b.bytesIn;
    series.bytesOut[b.second - first] = b.bytesOut;
  }
  return series;
}
