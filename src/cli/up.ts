// `dmfs up`: runs every server of the config as a child `dmfs node` process, prefixes each line of their
// output with the node, stops them all on SIGINT/SIGTERM, and exits non-zero if one of them died.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { type Config, loadConfig } from "../config/config.ts";
import { DmfsError } from "../errors.ts";
import { DEFAULT_CONFIG } from "./cluster-access.ts";

export function upCommand(): Command {
  return new Command("up")
    .description("run every server in the config as a child process; Ctrl-C stops them all")
    .option("-c, --config <file>", "cluster config", DEFAULT_CONFIG)
    .option("--log-level <level>", "log level passed to every node", "info")
    .action(async (o: { config: string; logLevel: string }) => {
      const config = loadConfig(o.config);
      const children = config.servers.map((_, i) =>
        startChild(serverArgs(config, i, o.logLevel), serverName(config, i)),
      );
      const code = await supervise(children);
      if (code !== 0) throw new DmfsError("E_IO", "a node exited unexpectedly; stopped the others");
    });
}

export interface Child {
  name: string;
  proc: ChildProcess;
}

/** The arguments of `dmfs node` that run server `index` of the config. */
export function serverArgs(config: Config, index: number, logLevel: string): string[] {
  return ["node", "--config", config.file, "--server", String(index), "--log-level", logLevel];
}

/** How `dmfs up` names server `index` in its output: "node-1 127.0.0.1:8001". */
export function serverName(config: Config, index: number): string {
  return `node-${index} ${config.servers[index]?.listenAddr ?? ""}`.trimEnd();
}

/** The command that runs this CLI again, from the build or from source. */
export function selfCommand(): { command: string; args: string[] } {
  const main = fileURLToPath(
    new URL(import.meta.url.endsWith(".ts") ? "./main.ts" : "./main.js", import.meta.url),
  );
  const args = main.endsWith(".ts") ? ["--import", import.meta.resolve("tsx"), main] : [main];
  return { command: process.execPath, args };
}

/**
 * Runs `dmfs <args>` as a child. Its output goes to the file descriptor `out` when given, otherwise to
 * our stdout with each line prefixed by `[name]`.
 */
export function startChild(args: string[], name: string, out?: number): Child {
  const self = selfCommand();
  const output = out ?? "pipe";
  const proc = spawn(self.command, [...self.args, ...args], { stdio: ["ignore", output, output] });
  for (const stream of [proc.stdout, proc.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on("line", (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
  return { name, proc };
}

/** SIGTERMs every child still running and waits until all have exited. */
export async function stopChildren(children: readonly Child[]): Promise<void> {
  await Promise.all(children.map(stopChild));
}

function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => c.proc.once("exit", () => resolve()));
  c.proc.kill("SIGTERM");
  return exited;
}

/** Waits until a signal or a child's death; then stops the rest. Resolves to the exit code to use. */
async function supervise(children: Child[]): Promise<number> {
  let stopping = false;
  const exited = children.map(
    (c) =>
      new Promise<number>((resolve) => {
        c.proc.once("exit", (code, signal) => {
          if (!stopping) process.stderr.write(`dmfs up: ${c.name} exited (${signal ?? `code ${code}`})\n`);
          resolve(code ?? 1);
        });
      }),
  );
  const signalled = new Promise<"signal">((resolve) => {
    process.once("SIGINT", () => resolve("signal"));
    process.once("SIGTERM", () => resolve("signal"));
  });
  const first = await Promise.race([signalled, ...exited.map((p) => p.then(() => "died" as const))]);
  stopping = true;
  await stopChildren(children);
  await Promise.all(exited);
  return first === "signal" ? 0 : 1;
}
