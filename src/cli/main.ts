// The `dmfs` command line: one file per command under src/cli/, wired here with commander.
// Every failure ends in one sentence on stderr and a non-zero exit status; --debug adds the stack.
import { Command } from "commander";
import { clusterCommand } from "./cluster.ts";
import { deleteCommand } from "./delete.ts";
import { demoCommand } from "./demo.ts";
import { tuneGarbageCollection } from "./garbage-collection.ts";
import { initCommand } from "./init.ts";
import { lsCommand } from "./ls.ts";
import { monitorCommand } from "./monitor.ts";
import { nodeCommand } from "./node.ts";
import { readCommand } from "./read.ts";
import { exitStatusFor, reportError } from "./report-error.ts";
import { statCommand } from "./stat.ts";
import { statusCommand } from "./status.ts";
import { upCommand } from "./up.ts";
import { uploadCommand } from "./upload.ts";

const program = new Command()
  .name("dmfs")
  .description("DMFS - a distributed mesh file system: encrypted chunks replicated across peer nodes")
  .option("--debug", "print stack traces on errors")
  .showHelpAfterError("(run with --help for usage)")
  .addCommand(initCommand())
  .addCommand(upCommand())
  .addCommand(nodeCommand())
  .addCommand(clusterCommand())
  .addCommand(statusCommand())
  .addCommand(uploadCommand())
  .addCommand(readCommand())
  .addCommand(deleteCommand())
  .addCommand(lsCommand())
  .addCommand(statCommand())
  .addCommand(monitorCommand())
  .addCommand(demoCommand());

async function main(argv: string[]): Promise<void> {
  tuneGarbageCollection();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    reportError(err, { debug: Boolean(program.opts().debug) });
    process.exitCode = exitStatusFor(err);
  }
}

await main(process.argv);
