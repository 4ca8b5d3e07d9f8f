// `dmfs upload FILE [--path P]`: encrypts, chunks and stores a file; prints its key.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { Command } from "commander";
import { DmfsError } from "../errors.ts";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { progressBar } from "./progress.ts";

export function uploadCommand(): Command {
  return addClusterOptions(new Command("upload").description("store a file in the cluster and print its key"))
    .argument("<file>", "the file to upload (a named pipe or /dev/stdin streams too)")
    .option("-p, --path <path>", "the path to list it under (default: the file's name)")
    .option("--json", 'print { "key", "path", "size", "chunks" }')
    .action(async (file: string, o: ClusterAccessOptions & { path?: string; json?: boolean }) => {
      const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
        throw new DmfsError(
          "E_NOT_FOUND",
          `cannot read input file ${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`,
          {
            subject: file,
          },
        );
      });
      // A named pipe (or /dev/stdin fed by one) streams like a file, only its size is unknown up front.
      if (!info.isFile() && !info.isFIFO()) {
        throw new DmfsError("E_USAGE", `${file} is not a regular file or a named pipe`, { subject: file });
      }
      const path = o.path ?? basename(file);
      const bar = progressBar(`upload ${path}`, info.isFile() ? info.size : undefined);
      const result = await withFileClient(o, (files) =>
        files.upload(
          createReadStream(file, { highWaterMark: 1024 * 1024 }),
          path,
          Math.floor(info.mtimeMs),
          (n) => bar.update(n),
        ),
      );
      bar.finish();
      process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${result.key}\n`);
    });
}
