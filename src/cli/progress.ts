// A progress bar on stderr for long transfers, drawn only when stderr is a terminal, so scripts and
// pipes see nothing but the command's output.
import { formatBytes } from "./format.ts";

export interface ProgressBar {
  /** `totalBytes`, when given, replaces the size the bar was made with (a read learns it late). */
  update(doneBytes: number, totalBytes?: number): void;
  finish(): void;
}

export function progressBar(
  label: string,
  totalBytes: number | undefined,
  stream = process.stderr,
): ProgressBar {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  const started = performance.now();
  let lastDraw = 0;
  let done = 0;
  const draw = () => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds / 1e6 : 0;
    const width = 24;
    const fraction = totalBytes ? Math.min(1, done / totalBytes) : 0;
    const bar = totalBytes
      ? `[${"#".repeat(Math.round(fraction * width)).padEnd(width, "-")}] ${(fraction * 100).toFixed(0).padStart(3)}% `
      : "";
    const of = totalBytes ? ` / ${formatBytes(totalBytes)}` : "";
    stream.write(`\r${label} ${bar}${formatBytes(done)}${of}  ${rate.toFixed(1)} MB/s\x1b[K`);
  };
  return {
    update(bytes, total) {
      if (total !== undefined) totalBytes = total;
      done = bytes;
      const now = performance.now();
      if (now - lastDraw >= 100) {
        lastDraw = now;
        draw();
      }
    },
    finish() {
      draw();
      stream.write("\n");
    },
  };
}
