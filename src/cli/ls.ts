// `dmfs ls`: the cluster's files, their paths and times decrypted here on the client.
import { Command } from "commander";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { formatBytes, table } from "./format.ts";

export function lsCommand(): Command {
  return addClusterOptions(new Command("ls").description("list the files in the cluster"))
    .option("--json", 'print an array of { "path", "key", "size", "mtime" }')
    .action(async (o: ClusterAccessOptions & { json?: boolean }) => {
      const files = await withFileClient(o, (client) => client.list());
      if (o.json) {
        process.stdout.write(`${JSON.stringify(files)}\n`);
        return;
      }
      const rows = files.map((f) => [f.path, formatBytes(f.size), new Date(f.mtime).toISOString(), f.key]);
      process.stdout.write(table(["PATH", "SIZE", "MODIFIED", "KEY"], rows));
    });
}
