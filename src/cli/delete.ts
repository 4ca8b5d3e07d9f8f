// `dmfs delete KEY|PATH`: removes a file from the catalog on every node (a tombstone).
import { Command } from "commander";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";

export function deleteCommand(): Command {
  return addClusterOptions(new Command("delete").description("delete a file by its key or path"))
    .argument("<key-or-path>", "the key upload printed, or the file's path")
    .option("--json", 'print { "path", "key" }')
    .action(async (keyOrPath: string, o: ClusterAccessOptions & { json?: boolean }) => {
      const removed = await withFileClient(o, (files) => files.delete(keyOrPath));
      process.stdout.write(o.json ? `${JSON.stringify(removed)}\n` : `deleted ${removed.path}\n`);
    });
}
