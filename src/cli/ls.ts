// `dmfs ls`: the cluster's files, their paths and times decrypted here on the client. An entry that
// does not open or does not match its metadata is left out of the listing, named on stderr, and the
// command exits with EXIT_UNREADABLE_ENTRIES (9) so a script notices; when none opens, the data key is
// wrong (exit 5).
import { Command } from "commander";
import { DmfsError } from "../errors.ts";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { formatBytes, table } from "./format.ts";
import { EXIT_UNREADABLE_ENTRIES } from "./report-error.ts";

export function lsCommand(): Command {
  return addClusterOptions(new Command("ls").description("list the files in the cluster"))
    .option("--json", 'print an array of { "path", "key", "size", "mtime" }')
    .addHelpText(
      "after",
      `\nExit status ${EXIT_UNREADABLE_ENTRIES}: some entries could not be opened or checked; the others are listed and each bad one is named on stderr.`,
    )
    .action(async (o: ClusterAccessOptions & { json?: boolean }) => {
      const { files, unreadable } = await withFileClient(o, (client) => client.list());
      // Not one entry opens: the data key is not the one the files were written with.
      if (files.length === 0 && unreadable.length > 0 && unreadable.every((u) => u.code === "E_WRONG_KEY")) {
        throw new DmfsError(
          "E_WRONG_KEY",
          `wrong data key or corrupted data: none of the ${unreadable.length} catalog entries opens with this data key`,
        );
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(files)}\n`);
      } else {
        const rows = files.map((f) => [f.path, formatBytes(f.size), isoTime(f.mtime), f.key]);
        process.stdout.write(table(["PATH", "SIZE", "MODIFIED", "KEY"], rows));
      }
      for (const bad of unreadable) {
        process.stderr.write(`dmfs: left out entry ${bad.pathId}: ${bad.reason}\n`);
      }
      if (unreadable.length > 0) process.exitCode = EXIT_UNREADABLE_ENTRIES;
    });
}

/** ISO time, or the raw milliseconds for a time a Date cannot hold (beyond +-275,000 years). */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}
