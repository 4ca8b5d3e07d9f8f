// `dmfs upload FILE [--path P]`: encrypts, chunks and stores a file; prints its key.
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { Command } from "commander";
import { pathProblem } from "../crypto/catalog-crypto.ts";
import { DmfsError } from "../errors.ts";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { filePieces } from "./file-pieces.ts";
import { withFileClient } from "./file-session.ts";
import { progressBar } from "./progress.ts";

/** The argument that names standard input: whatever it is (a pipe, a socket, a redirected file). */
const STDIN = "-";

export function uploadCommand(): Command {
  return addClusterOptions(new Command("upload").description("store a file in the cluster and print its key"))
    .argument("<file>", "the file to upload; - reads standard input (then --path is required)")
    .option(
      "-p, --path <path>",
      "the path to list it under: UTF-8, 1 to 1024 bytes, no NUL (default: the file's name)",
    )
    .option("--json", 'print { "key", "path", "size", "chunks" }')
    .action(async (file: string, o: ClusterAccessOptions & { path?: string; json?: boolean }) => {
      const input = file === STDIN ? standardInput(o.path) : await namedInput(file, o.path);
      const problem = pathProblem(input.path);
      if (problem) {
        throw new DmfsError(
          "E_USAGE",
          `cannot upload as ${JSON.stringify(input.path.slice(0, 80))}: ${problem}`,
        );
      }
      const bar = progressBar(`upload ${input.path}`, input.size);
      const result = await withFileClient(o, (files) =>
        files.upload(input.stream(), input.path, input.mtime, (n) => bar.update(n)),
      );
      bar.finish();
      process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${result.key}\n`);
    });
}

interface UploadInput {
  path: string;
  /** Known for a regular file, for the progress bar. */
  size: number | undefined;
  mtime: number;
  stream: () => Readable | AsyncIterable<Uint8Array>;
}

function standardInput(path: string | undefined): UploadInput {
  if (path === undefined) {
    throw new DmfsError("E_USAGE", "reading standard input (-) needs --path to name the file");
  }
  if (process.stdin.isTTY) {
    throw new DmfsError(
      "E_USAGE",
      "standard input is a terminal: pipe the file in, e.g. cat FILE | dmfs upload - --path P",
    );
  }
  return { path, size: undefined, mtime: Date.now(), stream: () => process.stdin };
}

async function namedInput(file: string, path: string | undefined): Promise<UploadInput> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new DmfsError(
      "E_NOT_FOUND",
      `cannot read input file ${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`,
      { subject: file },
    );
  });
  // A named pipe (or /dev/stdin fed by one) streams like a file, only its size is unknown up front.
  if (!info.isFile() && !info.isFIFO()) {
    throw new DmfsError(
      "E_USAGE",
      `${file} is not a regular file or a named pipe (to upload standard input, pass - and --path)`,
      { subject: file },
    );
  }
  return {
    path: path ?? basename(file),
    size: info.isFile() ? info.size : undefined,
    mtime: Math.floor(info.mtimeMs),
    stream: () => filePieces(file),
  };
}
