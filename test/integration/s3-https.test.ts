// `dmfs s3 --tls-cert/--tls-key` serves HTTPS: a real gateway process with a self-signed certificate
// made here, in front of two real nodes. The AWS SDK and the Debian aws-cli (--ca-bundle), rclone
// (--ca-cert) and s3cmd (ca_certs_file) trust it by that certificate alone; a client that does not trust it is refused at the handshake, and plain HTTP
// on the same port gets no S3 answer. A certificate and key that do not belong together stop the start.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, runCli, seededBytes, TestCluster } from "../helpers/cluster-harness.ts";
import { type ClientHome, clientHome, missingClients } from "../helpers/s3-clients.ts";
import { type RunningGateway, startS3Gateway } from "../helpers/s3-gateway.ts";
import { selfSignedServerCertificate } from "../helpers/self-signed.ts";

const missingAws = missingClients(["aws"]);
if (missingAws) console.warn(`SKIPPED the aws-cli HTTPS test: ${missingAws}`);
const missingRcloneS3cmd = missingClients(["rclone", "s3cmd"]);
if (missingRcloneS3cmd) console.warn(`SKIPPED the rclone and s3cmd HTTPS test: ${missingRcloneS3cmd}`);

let cluster: TestCluster;
let gateway: RunningGateway;
let s3: S3Client;
let work: string;
let certFile: string;
let keyFile: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "dmfs-s3-https-"));
  const { cert, key } = await selfSignedServerCertificate();
  certFile = join(work, "server.crt");
  keyFile = join(work, "server.key");
  await writeFile(certFile, cert);
  await writeFile(keyFile, key, { mode: 0o600 });
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }], { replication: 2, writeQuorum: 2 });
  try {
    await cluster.startAll();
    await cluster.waitForMesh();
    gateway = await startS3Gateway(cluster, 0, [], { tls: { certFile, keyFile, ca: cert } });
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  s3 = gateway.client();
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gateway?.stop();
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("dmfs s3 over HTTPS", () => {
  it("serves the AWS SDK that trusts the certificate: put and get byte for byte", async () => {
    expect(gateway.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.output.join("\n")).toContain(`serving S3 on ${gateway.endpoint}`);
    const body = await seededBytes("https-sdk", 2 * 1024 * 1024 + 5);
    await s3.send(new CreateBucketCommand({ Bucket: "secure" }));
    await s3.send(new PutObjectCommand({ Bucket: "secure", Key: "a.bin", Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "secure", Key: "a.bin" }));
    expect(
      Buffer.from(
        await (got.Body as { transformToByteArray: () => Promise<Uint8Array> }).transformToByteArray(),
      ).equals(body),
    ).toBe(true);
  });

  it("refuses a client that does not trust the certificate, and plain HTTP on the port gets no S3 answer", async () => {
    const untrusting = gateway.client({ requestHandler: undefined });
    const err = (await untrusting.send(new ListBucketsCommand({})).then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code?: string }) | undefined;
    untrusting.destroy();
    expect(err?.code ?? err?.message).toMatch(/SELF_SIGNED|self-signed|self signed/i);

    const plain = await new Promise<string>((resolve) => {
      const req = request(`http://${gateway.listen}/`, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on("error", (e) => resolve(`error ${e.message}`));
      req.end();
    });
    // Node's TLS server answers a plain request with a bare 400 or drops it; never an S3 listing.
    expect(plain).toMatch(/^(HTTP 400|error )/);
  });

  it.skipIf(missingAws !== undefined)(
    "serves aws-cli given the certificate with --ca-bundle: cp up and down, ls",
    async () => {
      const clients: ClientHome = await clientHome(gateway, { caFile: certFile });
      try {
        const file = join(work, "up.bin");
        const content = await seededBytes("https-awscli", 300_000);
        await writeFile(file, content);
        const aws = async (...args: string[]) => {
          const r = await clients.aws(args);
          expect(r.code, `aws ${args.join(" ")}: ${r.stderr}`).toBe(0);
          return r.stdout;
        };
        await aws("s3", "cp", file, "s3://secure/from-aws.bin", "--only-show-errors");
        expect(await aws("s3", "ls", "s3://secure/")).toMatch(/ 300000 from-aws\.bin/);
        const down = join(work, "down.bin");
        await aws("s3", "cp", "s3://secure/from-aws.bin", down, "--only-show-errors");
        expect((await readFile(down)).equals(content)).toBe(true);
      } finally {
        await clients.remove();
      }
    },
    120_000,
  );

  it.skipIf(missingRcloneS3cmd !== undefined)(
    "serves rclone (--ca-cert) and s3cmd (ca_certs_file) given the certificate, with README's files",
    async () => {
      const clients: ClientHome = await clientHome(gateway, { caFile: certFile });
      try {
        const file = join(work, "rclone-up.bin");
        const content = await seededBytes("https-rclone", 150_000);
        await writeFile(file, content);
        const up = await clients.rclone(["copyto", file, "dmfs:secure/from-rclone.bin"]);
        expect(up.code, up.stderr).toBe(0);
        const cat = await clients.rclone(["cat", "dmfs:secure/from-rclone.bin"]);
        expect(cat.code, cat.stderr).toBe(0);
        expect(cat.stdoutBytes.equals(content)).toBe(true);
        const got = join(work, "s3cmd-got.bin");
        const get = await clients.s3cmd(["get", "s3://secure/from-rclone.bin", got]);
        expect(get.code, get.stderr).toBe(0);
        expect((await readFile(got)).equals(content)).toBe(true);
      } finally {
        await clients.remove();
      }
    },
    120_000,
  );

  it("does not start with a key that is not the certificate's", async () => {
    const other = await selfSignedServerCertificate();
    const otherKey = join(work, "other.key");
    await writeFile(otherKey, other.key, { mode: 0o600 });
    const r = await runCli([
      "s3",
      "--listen",
      `127.0.0.1:${await freePort()}`,
      "--node",
      cluster.addrs[0] as string,
      "--cluster",
      cluster.clusterDir,
      "--tls-cert",
      certFile,
      "--tls-key",
      otherKey,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--tls-cert .* and --tls-key .* are not a PEM certificate and its private key/);
    const half = await runCli([
      "s3",
      "--node",
      cluster.addrs[0] as string,
      "--cluster",
      cluster.clusterDir,
      "--tls-cert",
      certFile,
    ]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("HTTPS needs both --tls-cert FILE and --tls-key FILE");
  });
});
