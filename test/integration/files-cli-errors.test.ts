// The file commands' failures as a user meets them, against three real nodes: a missing input file, an
// unknown key or path, the wrong data key, an unreachable cluster. Each ends with one sentence on stderr,
// no stack trace, and the exit status of its kind; nothing is left half-written. A reader that stops
// early (`| head`) is not an error.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { cp, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  freePort,
  oneSentence,
  runCli,
  TestCluster,
  writeSeededFile,
} from "../helpers/cluster-harness.ts";

let cluster: TestCluster;
let key: string;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }]);
  await cluster.startAll();
  await cluster.waitForMesh();
  const input = join(cluster.dir, "kept.bin");
  await writeSeededFile(input, "kept", 2 * 1024 * 1024 + 3);
  const up = await cluster.runCli(["upload", input, "--path", "kept.bin"]);
  expect(up.code).toBe(0);
  key = up.stdout.trim();
});

afterAll(async () => {
  await cluster?.stop();
});

describe("file command errors", () => {
  it("says the input file is missing", async () => {
    const missing = join(cluster.dir, "no-such-file.bin");
    const line = oneSentence(await cluster.runCli(["upload", missing]), 4);
    expect(line).toBe(`dmfs: cannot read input file ${missing}: no such file`);
    const dir = oneSentence(await cluster.runCli(["upload", cluster.dir]), 2);
    expect(dir).toBe(
      `dmfs: ${cluster.dir} is not a regular file or a named pipe (to upload standard input, pass - and --path)`,
    );
  });

  it("asks for --path when uploading standard input, and points to - for a socket given as a file", async () => {
    const noPath = oneSentence(await cluster.runCli(["upload", "-"], { stdin: Readable.from([]) }), 2);
    expect(noPath).toMatch(/standard input \(-\) needs --path/);
    const socket = oneSentence(
      await cluster.runCli(["upload", "/dev/stdin"], { stdin: Readable.from([Buffer.from("x")]) }),
      2,
    );
    expect(socket).toMatch(
      /not a regular file or a named pipe \(to upload standard input, pass - and --path\)/,
    );
  });

  it("says what is wrong with an output path before reading anything", async () => {
    const nowhere = join(cluster.dir, "no-such-dir", "out.bin");
    const missingDir = oneSentence(await cluster.runCli(["read", key, "-o", nowhere]), 2);
    expect(missingDir).toBe(
      `dmfs: cannot write ${nowhere}: there is no directory ${join(cluster.dir, "no-such-dir")}`,
    );
    const isDir = oneSentence(await cluster.runCli(["read", key, "-o", cluster.dir]), 2);
    expect(isDir).toBe(`dmfs: ${cluster.dir} is a directory; give -o a file name`);
    expect((await readdir(cluster.dir)).filter((n) => n.endsWith(".dmfs-partial"))).toEqual([]);
  });

  it("says an unknown key or path is not in the cluster, for read, stat and delete", async () => {
    const unknownKey = "ab".repeat(32);
    for (const command of ["read", "stat", "delete"]) {
      for (const name of ["no/such/path.txt", unknownKey]) {
        const line = oneSentence(await cluster.runCli([command, name]), 4);
        expect(line).toBe(`dmfs: no file with key or path "${name}" in the cluster`);
      }
    }
    // A failed read with -o leaves no output file and no partial file behind.
    const out = join(cluster.dir, "out", "never.bin");
    await cp(join(cluster.dir, "kept.bin"), join(cluster.dir, "out", "placeholder"));
    oneSentence(await cluster.runCli(["read", "no/such/path.txt", "-o", out]), 4);
    expect(await readdir(join(cluster.dir, "out"))).toEqual(["placeholder"]);
  });

  it("says wrong data key or corrupted data when the client's data key is not the cluster's", async () => {
    // Another client with the same certificates but its own data key, in its own copy of the cluster dir.
    const otherDir = join(cluster.dir, "other-client");
    await cp(cluster.clusterDir, otherDir, { recursive: true });
    await writeFile(join(otherDir, "data.key"), randomBytes(32), { mode: 0o600 });
    const asOther = { clusterDir: otherDir };

    const out = join(cluster.dir, "wrong-key.bin");
    const read = await cluster.runCli(["read", key, "-o", out], asOther);
    expect(oneSentence(read, 5)).toMatch(/^dmfs: wrong data key or corrupted data/);
    expect(existsSync(out)).toBe(false);
    expect((await readdir(cluster.dir)).filter((n) => n.endsWith(".dmfs-partial"))).toEqual([]);

    const toStdout = await cluster.runCli(["read", key], asOther);
    expect(oneSentence(toStdout, 5)).toMatch(/^dmfs: wrong data key or corrupted data/);
    expect(toStdout.stdout).toBe("");

    for (const args of [["ls"], ["stat", key]]) {
      expect(oneSentence(await cluster.runCli(args, asOther), 5)).toMatch(
        /^dmfs: wrong data key or corrupted data/,
      );
    }
    // The path is keyed with the data key too: under another key it names no file.
    oneSentence(await cluster.runCli(["read", "kept.bin"], asOther), 4);
    // The right key still reads it.
    expect((await cluster.runCli(["stat", "kept.bin"])).code).toBe(0);
  });

  it("ends quietly when whoever reads its stdout stops early, like `dmfs read KEY | head`", async () => {
    const access = ["--node", cluster.addrs[0] as string, "--cluster", cluster.clusterDir];
    const proc = spawn(process.execPath, [CLI, "read", key, ...access], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const closed = once(proc, "close");
    const [first] = (await once(proc.stdout, "data")) as [Buffer];
    expect(first.length).toBeGreaterThan(0);
    // 2 MiB do not fit in a pipe: the command is still writing when its reader goes away.
    proc.stdout.destroy();
    const [code] = await closed;
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  it("says the cluster is unreachable when no node answers", async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    for (const args of [["ls"], ["read", key], ["upload", join(cluster.dir, "kept.bin")]]) {
      const result = await runCli([...args, "--node", nowhere, "--cluster", cluster.clusterDir]);
      expect(oneSentence(result, 6)).toMatch(
        new RegExp(`^dmfs: cluster unreachable: no node answered at ${nowhere} `),
      );
    }
  });
});
