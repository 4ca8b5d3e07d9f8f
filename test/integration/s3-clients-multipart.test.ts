// Big files through S3 clients' own multipart uploads, with their default settings, against a real
// `dmfs s3` gateway in front of two real nodes: aws-cli's `aws s3 cp` of a 200 MiB file up and down
// (multipart above 8 MiB, in 8 MiB parts) and rclone's copy of a file past its 200 MiB upload cutoff
// (5 MiB parts), each byte for byte.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256OfFile, writeSeededFile } from "../helpers/cluster-harness.ts";
import {
  type ClientHome,
  type ClientSetup,
  missingClients,
  startClientSetup,
} from "../helpers/s3-clients.ts";
import type { RunningGateway } from "../helpers/s3-gateway.ts";

const missingAws = missingClients(["aws"]);
if (missingAws) console.warn(`SKIPPED aws-cli multipart test: ${missingAws}`);
const missingRclone = missingClients(["rclone"]);
if (missingRclone) console.warn(`SKIPPED rclone multipart test: ${missingRclone}`);

const MiB = 1024 * 1024;

let gateway: RunningGateway;
let clients: ClientHome;
let work: string;
let setup: ClientSetup | undefined;

beforeAll(async () => {
  if (missingAws && missingRclone) return;
  setup = await startClientSetup("s3-multipart");
  ({ gateway, clients, work } = setup);
}, 120_000);

afterAll(async () => {
  await setup?.stop();
});

describe("multipart uploads by the clients' defaults", () => {
  it.skipIf(missingAws !== undefined)(
    "aws s3 cp of a 200 MiB file up (multipart) and down, byte for byte",
    async () => {
      const file = join(work, "big-aws.bin");
      await writeSeededFile(file, "aws-multipart", 200 * MiB);
      const aws = async (...args: string[]) => {
        const r = await clients.aws(args, 600_000);
        expect(r.code, `aws ${args.join(" ")}: ${r.stderr}`).toBe(0);
        return r.stdout;
      };
      await aws("s3", "mb", "s3://big");
      await aws("s3", "cp", file, "s3://big/aws.bin", "--only-show-errors");
      const head = JSON.parse(await aws("s3api", "head-object", "--bucket", "big", "--key", "aws.bin")) as {
        ContentLength: number;
        ETag: string;
      };
      expect(head.ContentLength).toBe(200 * MiB);
      // A multipart ETag: MD5 of the parts' MD5s, dash, the number of parts (25 parts of 8 MiB).
      expect(head.ETag).toMatch(/^"[0-9a-f]{32}-25"$/);
      const down = join(work, "big-aws-down.bin");
      await aws("s3", "cp", "s3://big/aws.bin", down, "--only-show-errors");
      const expected = await sha256OfFile(file);
      expect(await sha256OfFile(down)).toBe(expected);
      await rm(down);
      await rm(file);
    },
    600_000,
  );

  it.skipIf(missingRclone !== undefined)(
    "rclone copy of a file past its 200 MiB upload cutoff (multipart) and back, byte for byte",
    async () => {
      const size = 200 * MiB + 12345;
      const file = join(work, "big-rclone.bin");
      await writeSeededFile(file, "rclone-multipart", size);
      const rclone = async (...args: string[]) => {
        const r = await clients.rclone(args, 600_000);
        expect(r.code, `rclone ${args.join(" ")}: ${r.stderr}`).toBe(0);
        return r;
      };
      await rclone("copyto", file, "dmfs:bigr/rclone.bin");
      const lsjson = JSON.parse((await rclone("lsjson", "dmfs:bigr/rclone.bin")).stdout) as {
        Size: number;
      }[];
      expect(lsjson[0]?.Size).toBe(size);
      // Sent as a multipart upload: the ETag has S3's multipart form, 41 parts of rclone's 5 MiB.
      const sdk = gateway.client();
      const head = await sdk.send(new HeadObjectCommand({ Bucket: "bigr", Key: "rclone.bin" }));
      sdk.destroy();
      expect(head.ETag).toMatch(/^"[0-9a-f]{32}-41"$/);
      const down = join(work, "big-rclone-down.bin");
      await rclone("copyto", "dmfs:bigr/rclone.bin", down);
      const expected = await sha256OfFile(file);
      expect(await sha256OfFile(down)).toBe(expected);
      await rm(down);
      await rm(file);
    },
    600_000,
  );
});
