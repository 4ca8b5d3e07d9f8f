// The `dmfs` command line: one file per command under src/cli/, wired here with commander; main.ts
// loads it once V8 is tuned. Every failure ends in one sentence on stderr and a non-zero exit status;
// --debug adds the stack.
import { Command } from "commander";
import { clusterCommand } from "./cluster.ts";
import { deleteCommand } from "./delete.ts";
import { demoCommand } from "./demo.ts";
import { gcCommand } from "./gc.ts";
import { initCommand } from "./init.ts";
import { lsCommand } from "./ls.ts";
import { monitorCommand } from "./monitor.ts";
import { nodeCommand } from "./node.ts";
import { readCommand } from "./read.ts";
import { exitStatusFor, reportError } from "./report-error.ts";
import { s3Command } from "./s3.ts";
import { statCommand } from "./stat.ts";
import { statusCommand } from "./status.ts";
import { upCommand } from "./up.ts";
import { uploadCommand } from "./upload.ts";

const program = new Command()
  .name("dmfs")
  .description("DMFS - a distributed mesh file system: encrypted chunks replicated across peer nodes")
  .option("--debug", "print stack traces on errors")
  .showHelpAfterError("(run with --help for usage)")
  .addHelpText(
    "after",
    "\nExit statuses: 0 done, 1 anything else, 2 usage, 3 config or cluster files, 4 not found, 5 wrong data key\nor data that does not verify, 6 cluster unreachable, 7 write quorum not met, 8 disk full on the nodes,\n9 ls listed what it could but left out entries it could not open or check (named on stderr),\n10 too few nodes take new copies because some are read-only (missed a tombstone purge while away).",
  )
  .addCommand(initCommand())
  .addCommand(upCommand())
  .addCommand(nodeCommand())
  .addCommand(clusterCommand())
  .addCommand(statusCommand())
  .addCommand(gcCommand())
  .addCommand(uploadCommand())
  .addCommand(readCommand())
  .addCommand(deleteCommand())
  .addCommand(lsCommand())
  .addCommand(statCommand())
  .addCommand(s3Command())
  .addCommand(monitorCommand())
  .addCommand(demoCommand());

async function main(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    reportError(err, { debug: Boolean(program.opts().debug) });
    process.exitCode = exitStatusFor(err);
  }
}

await main(process.argv);
