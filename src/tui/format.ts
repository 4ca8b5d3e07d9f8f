// Short renderings of the monitor's numbers and times, sized for table cells.

/** Binary units, at most 9 characters ("999.9 MiB"): a unit is used up to 1000 of it, then the next. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let u = 0;
  while (v >= 999.95 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Bytes per second as MB/s (10^6, like network rates), at most 6 characters; "-" when unknown. */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null) return "-";
  const mb = bytesPerSecond / 1e6;
  if (mb >= 1000) return String(Math.round(mb));
  return mb >= 100 ? mb.toFixed(0) : mb >= 10 ? mb.toFixed(1) : mb.toFixed(2);
}

/** Bytes per second in decimal units, at most 11 characters: "0 B/s", "12.3 kB/s", "104.9 MB/s". */
export function formatThroughput(bytesPerSecond: number): string {
  const units = ["B/s", "kB/s", "MB/s", "GB/s"];
  let v = bytesPerSecond;
  let u = 0;
  while (v >= 999.95 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B/s` : `${v.toFixed(1)} ${units[u]}`;
}

export function formatRtt(rttMs: number | null): string {
  if (rttMs === null) return "-";
  return rttMs >= 100 ? `${Math.round(rttMs)} ms` : `${rttMs.toFixed(1)} ms`;
}

/** Local wall-clock time, HH:MM:SS. */
export function formatClock(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** A duration as the two largest units: "4s", "3m 12s", "2h 5m", "3d 4h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** `text` cut or padded to exactly `width` characters; cut text ends in an ellipsis. */
export function fitCell(text: string, width: number, align: "left" | "right" = "left"): string {
  if (width <= 0) return "";
  const cut = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return align === "left" ? cut.padEnd(width) : cut.padStart(width);
}
