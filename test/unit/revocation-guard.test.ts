import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createClusterCa,
  issueCertificate,
  type PemPair,
  serialOfCertificate,
} from "../../src/crypto/certificates.ts";
import { createRevocation } from "../../src/crypto/revocation.ts";
import { createLogger } from "../../src/node/logger.ts";
import { RevocationGuard } from "../../src/node/revocation-guard.ts";

const clusterId = "0123456789abcdef0123456789abcdef";
const log = createLogger("silent");
let root: string;
let ca: PemPair;
let node: PemPair;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "dmfs-guard-"));
  ca = await createClusterCa(clusterId);
  node = await issueCertificate(ca, { clusterId, role: "node", name: "node-2" });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the node's revocation guard", () => {
  it("keeps a verified revocation across a restart and announces it once", async () => {
    const guard = await RevocationGuard.open(root, ca.cert, log);
    const announced: string[][] = [];
    guard.onRevoked = (serials) => announced.push(serials);
    const revocation = await createRevocation(ca, node.cert);
    const serial = serialOfCertificate(node.cert);
    expect(await guard.accept([revocation])).toEqual([serial]);
    expect(await guard.accept([revocation])).toEqual([]); // gossip repeating it changes nothing
    expect(announced).toEqual([[serial]]);
    expect(guard.isRevoked(serial.toUpperCase())).toBe(true);

    const restarted = await RevocationGuard.open(root, ca.cert, log);
    expect(restarted.isRevoked(serial)).toBe(true);
    expect(restarted.all()).toHaveLength(1);
  });

  it("refuses a forged revocation and keeps nothing of it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dmfs-guard-forged-"));
    const guard = await RevocationGuard.open(dir, ca.cert, log);
    const forged = await createRevocation(await createClusterCa(clusterId), node.cert);
    await expect(guard.accept([forged])).rejects.toMatchObject({ code: "E_MESSAGE_INVALID" });
    expect(guard.isRevoked(serialOfCertificate(node.cert))).toBe(false);
    expect(guard.all()).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it("ignores a file in its revocations folder that does not verify", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dmfs-guard-planted-"));
    const planted = await createRevocation(await createClusterCa(clusterId), node.cert);
    const guard = await RevocationGuard.open(dir, ca.cert, log);
    await guard.accept([
      await createRevocation(ca, (await issueCertificate(ca, { clusterId, role: "node", name: "x" })).cert),
    ]);
    await writeFile(join(dir, "revocations", "planted.crl"), planted);
    expect(await readdir(join(dir, "revocations"))).toHaveLength(2);
    const reopened = await RevocationGuard.open(dir, ca.cert, log);
    expect(reopened.isRevoked(serialOfCertificate(node.cert))).toBe(false);
    expect(reopened.all()).toHaveLength(1);
    await rm(dir, { recursive: true, force: true });
  });
});
