// A sparkline of unicode block characters, one column per value, scaled to the largest value shown,
// `height` rows tall: each row adds eight levels of resolution.
const EIGHTHS = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] as const;
const BLANK = " ";

/**
 * The last `width` values as `height` lines, top line first. Zero shows as the lowest block on the
 * bottom line, so an idle line is still visible; any traffic shows at least one step above it.
 */
export function sparkline(values: readonly number[], width: number, height = 1): string[] {
  const shown = values.slice(Math.max(0, values.length - width));
  const padded = [...new Array<number>(width - shown.length).fill(0), ...shown];
  const max = Math.max(0, ...padded);
  const steps = height * EIGHTHS.length;
  // Eighths of a row filled per column: 1 (the baseline) for zero, 2..steps for the rest.
  const filled = padded.map((v) => (v > 0 && max > 0 ? Math.max(2, Math.ceil((v / max) * steps)) : 1));
  const lines: string[] = [];
  for (let row = height - 1; row >= 0; row--) {
    const below = row * EIGHTHS.length;
    lines.push(
      filled
        .map((f) => (f <= below ? BLANK : (EIGHTHS[Math.min(f - below, EIGHTHS.length) - 1] ?? BLANK)))
        .join(""),
    );
  }
  return lines;
}
