// `dmfs read KEY|PATH [-o OUT] [--offset N] [--length M]`: fetches, verifies and decrypts a file - or
// the bytes N to N+M of it, fetching only the chunks that hold them - to OUT or to stdout. With -o the
// bytes go to a temporary file renamed into place only once everything verified; to stdout they flow as
// they come, and a failure found at the end (a wrong file key) is reported after them.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { finished } from "node:stream/promises";
import { Command } from "commander";
import type { RangeRequest } from "../client/byte-range.ts";
import { DmfsError } from "../errors.ts";
import { storeError } from "../store/store-errors.ts";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { progressBar } from "./progress.ts";

export function readCommand(): Command {
  return addClusterOptions(
    new Command("read").description("read a file, or a byte range of it, back by its key or path"),
  )
    .argument("<key-or-path>", "the key upload printed, or the file's path")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .option("--offset <bytes>", "start at this byte of the file (default 0)")
    .option(
      "--length <bytes>",
      "write at most this many bytes (default: to the end); a range past the end of the file stops at its end, one starting past it is empty",
    )
    .action(
      async (
        keyOrPath: string,
        o: ClusterAccessOptions & { output?: string; offset?: string; length?: string },
      ) => {
        // Checked before anything connects: a bad number is a usage error (exit 2), not a network one.
        const range: RangeRequest = {
          ...(o.offset !== undefined ? { offset: byteCount(o.offset, "--offset") } : {}),
          ...(o.length !== undefined ? { length: byteCount(o.length, "--length") } : {}),
        };
        await withFileClient(o, async (files) => {
          // The read itself resolves the key or path once and reports the size with its progress.
          const bar = progressBar(`read ${keyOrPath.slice(0, 40)}`, undefined);
          if (!o.output) {
            try {
              await files.read(keyOrPath, process.stdout, (n, total) => bar.update(n, total), range, {
                writesThrough: true,
              });
            } catch (err) {
              // The reader of our stdout went away (`dmfs read x | head`): it has what it wanted.
              if ((err as NodeJS.ErrnoException).code === "EPIPE") return;
              throw err;
            }
            bar.finish();
            return;
          }
          const out = await openPartial(o.output);
          const temp = out.path as string;
          try {
            await files.read(keyOrPath, out, (n, total) => bar.update(n, total), range, {
              writesThrough: true,
            });
            out.end();
            await finished(out);
            await rename(temp, o.output);
          } catch (err) {
            // A write still queued fails once the stream is destroyed (an 'error' event, which unheard would
            // crash the process); the read's own error is the one to report.
            out.on("error", () => undefined);
            if (!out.closed) {
              const closed = new Promise<void>((resolve) => out.once("close", () => resolve()));
              out.destroy();
              await closed;
            }
            await rm(temp, { force: true });
            throw err;
          }
          bar.finish();
        });
      },
    );
}

/** A byte offset or length given on the command line: digits only, at most 2^53 - 1. */
function byteCount(text: string, flag: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new DmfsError(
      "E_USAGE",
      `${flag} must be a whole number of bytes from 0, got "${text.slice(0, 40)}"`,
    );
  }
  return n;
}

/**
 * Opens the temporary file next to `output` that the read fills, before anything is fetched, so a bad
 * output path is one clear sentence rather than a stream error mid-read.
 */
async function openPartial(output: string): Promise<WriteStream> {
  if ((await stat(output).catch(() => undefined))?.isDirectory()) {
    throw new DmfsError("E_USAGE", `${output} is a directory; give -o a file name`, { subject: output });
  }
  const temp = join(dirname(output), `.${basename(output)}.${randomBytes(4).toString("hex")}.dmfs-partial`);
  const out = createWriteStream(temp, { flags: "wx" });
  try {
    await once(out, "open");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new DmfsError("E_USAGE", `cannot write ${output}: there is no directory ${dirname(output)}`, {
        subject: output,
      });
    }
    throw storeError(err, "write", output);
  }
  return out;
}
