// `dmfs stat KEY|PATH`: a file's size, chunks, and which nodes hold each copy.
import { Command } from "commander";
import { addClusterOptions, type ClusterAccessOptions } from "./cluster-access.ts";
import { withFileClient } from "./file-session.ts";
import { formatBytes, table } from "./format.ts";

export function statCommand(): Command {
  return addClusterOptions(new Command("stat").description("show a file's chunks and where each copy is"))
    .argument("<key-or-path>", "the key upload printed, or the file's path")
    .option(
      "--json",
      'print { "key", "path", "size", "manifest": { "id", "nodes" }, "index": [...], "chunks": [{ "id", "nodes" }] }',
    )
    .action(async (keyOrPath: string, o: ClusterAccessOptions & { json?: boolean }) => {
      const s = await withFileClient(o, (files) => files.stat(keyOrPath));
      if (o.json) {
        process.stdout.write(`${JSON.stringify(s)}\n`);
        return;
      }
      const short = (ids: string[]) => ids.map((n) => n.slice(0, 8)).join(" ") || "(none alive)";
      process.stdout.write(`${s.path}  ${formatBytes(s.size)}  ${s.chunks.length} chunks\nkey ${s.key}\n\n`);
      const rows = [["manifest", s.manifest.id.slice(0, 16), short(s.manifest.nodes)]];
      for (const o of s.index) rows.push(["index", o.id.slice(0, 16), short(o.nodes)]);
      for (const [i, c] of s.chunks.entries()) rows.push([String(i), c.id.slice(0, 16), short(c.nodes)]);
      process.stdout.write(table(["#", "ID", "NODES"], rows));
    });
}
