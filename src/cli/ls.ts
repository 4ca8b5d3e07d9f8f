// `dmfs ls [PREFIX]`: the cluster's files whose path starts with PREFIX, from the client's listing index
// (src/client/listing-index.ts), brought up to date from a node first. Output is streamed a row at a
// time, so a listing of millions of files never sits in memory. An entry that does not open or does not
// match its metadata is left out, named on stderr, and the command exits with EXIT_UNREADABLE_ENTRIES
// (9) so a script notices; when none opens, the data key is wrong (exit 5).
import { once } from "node:events";
import { Command, InvalidArgumentError } from "commander";
import { type ListedFile, ListingIndex } from "../client/listing-index.ts";
import { NodeClient } from "../client/node-client.ts";
import { loadDataKeyPath } from "../cluster/cluster-dir.ts";
import { deriveKeys, loadDataKey } from "../crypto/keys.ts";
import { DmfsError } from "../errors.ts";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { formatBytes } from "./format.ts";
import { tuneListingGarbageCollection } from "./garbage-collection.ts";
import { EXIT_UNREADABLE_ENTRIES } from "./report-error.ts";

type LsOptions = ClusterAccessOptions & { json?: boolean; limit?: number };

export function lsCommand(): Command {
  return addClusterOptions(new Command("ls").description("list the files in the cluster"))
    .argument("[prefix]", "list only the files whose path starts with this (no wildcards)", "")
    .option("--limit <n>", "list at most n files", parseLimit)
    .option(
      "--json",
      'print a JSON array of { "path", "key", "size", "mtime" }, one object per line as it is listed',
    )
    .addHelpText(
      "after",
      `\nFiles are listed in path order (by UTF-8 bytes) from the listing index kept beside the bundle (listing.db), which each run first brings up to date from a node.\nExit status ${EXIT_UNREADABLE_ENTRIES}: some entries could not be opened or checked; the others are listed and each bad one is named on stderr.`,
    )
    .action(async (prefix: string, o: LsOptions) => {
      tuneListingGarbageCollection();
      const access = await resolveClusterAccess(o);
      const keys = deriveKeys(await loadDataKey(loadDataKeyPath(access.clusterDir)));
      const { index, notice } = ListingIndex.open(access.clusterDir, access.identity.clusterId, keys);
      try {
        const gateway = await NodeClient.connect(access.addrs, {
          identity: access.identity,
          chunkSize: access.chunkSize,
        });
        try {
          await index.sync(gateway);
        } finally {
          gateway.close();
        }
        const { files, unreadable } = index.counts();
        const bad = Object.values(unreadable).reduce((a, b) => a + b, 0);
        // Not one entry opens: the data key is not the one the files were written with.
        if (files === 0 && bad > 0 && unreadable.E_WRONG_KEY === bad) {
          throw new DmfsError(
            "E_WRONG_KEY",
            `wrong data key or corrupted data: none of the ${bad} catalog entries opens with this data key`,
          );
        }
        // Said only once the listing can go ahead: a failed run says one sentence, its error.
        if (notice) process.stderr.write(`dmfs: ${notice}\n`);
        await print(index.files(prefix, o.limit), o.json === true);
        for (const entry of index.unreadable()) {
          process.stderr.write(`dmfs: left out entry ${entry.pathId}: ${entry.reason}\n`);
        }
        if (bad > 0) process.exitCode = EXIT_UNREADABLE_ENTRIES;
      } finally {
        index.close();
      }
    });
}

/**
 * Writes each file as it comes: a JSON array with one object per line, or a table whose fixed-width
 * columns come first and the path last (widths cannot depend on rows not read yet).
 */
async function print(files: Iterable<ListedFile>, json: boolean): Promise<void> {
  const write = async (text: string) => {
    if (!process.stdout.write(text)) await once(process.stdout, "drain");
  };
  if (json) {
    let first = true;
    await write("[");
    for (const f of files) {
      await write(
        `${first ? "\n" : ",\n"}${JSON.stringify({ path: f.path, key: f.key, size: f.size, mtime: f.mtime })}`,
      );
      first = false;
    }
    await write(first ? "]\n" : "\n]\n");
    return;
  }
  await write(`${"SIZE".padStart(10)}  ${"MODIFIED".padEnd(24)}  ${"KEY".padEnd(64)}  PATH\n`);
  for (const f of files) {
    await write(`${formatBytes(f.size).padStart(10)}  ${isoTime(f.mtime).padEnd(24)}  ${f.key}  ${f.path}\n`);
  }
}

function parseLimit(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("must be a whole number of at least 1.");
  }
  return n;
}

/** ISO time, or the raw milliseconds for a time a Date cannot hold (beyond +-275,000 years). */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString();
}
