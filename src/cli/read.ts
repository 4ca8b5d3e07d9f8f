// `dmfs read KEY|PATH [-o OUT]`: fetches, verifies and decrypts a file to OUT or to stdout.
// With -o the bytes go to a temporary file renamed into place only when complete.
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { finished } from "node:stream/promises";
import { Command } from "commander";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { progressBar } from "./progress.ts";

export function readCommand(): Command {
  return addClusterOptions(new Command("read").description("read a file back by its key or path"))
    .argument("<key-or-path>", "the key upload printed, or the file's path")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (keyOrPath: string, o: ClusterAccessOptions & { output?: string }) => {
      await withFileClient(o, async (files) => {
        const entry = await files.resolve(keyOrPath);
        const bar = progressBar(`read ${keyOrPath.slice(0, 40)}`, entry.size);
        if (!o.output) {
          await files.read(keyOrPath, process.stdout, (n) => bar.update(n));
          bar.finish();
          return;
        }
        const temp = join(dirname(o.output), `.${Date.now()}.dmfs-partial`);
        const out = createWriteStream(temp, { flags: "wx" });
        try {
          await files.read(keyOrPath, out, (n) => bar.update(n));
          out.end();
          await finished(out);
          await rename(temp, o.output);
        } catch (err) {
          out.destroy();
          await rm(temp, { force: true });
          throw err;
        }
        bar.finish();
      });
    });
}
