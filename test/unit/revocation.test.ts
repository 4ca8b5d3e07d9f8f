import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createClusterCa,
  issueCertificate,
  normalSerial,
  serialOfCertificate,
} from "../../src/crypto/certificates.ts";
import { createRevocation, verifyRevocation } from "../../src/crypto/revocation.ts";

const clusterId = "0123456789abcdef0123456789abcdef";

describe("node revocations", () => {
  it("a revocation signed by the cluster CA names the revoked certificate's serial", async () => {
    const ca = await createClusterCa(clusterId);
    const node = await issueCertificate(ca, { clusterId, role: "node", name: "node-1" });
    const der = await createRevocation(ca, node.cert);
    expect(await verifyRevocation(ca.cert, der)).toEqual([serialOfCertificate(node.cert)]);
  });

  it("a revocation signed by another CA, even one with the same name, is rejected", async () => {
    const ca = await createClusterCa(clusterId);
    const impostor = await createClusterCa(clusterId);
    const node = await issueCertificate(impostor, { clusterId, role: "node", name: "node-1" });
    const forged = await createRevocation(impostor, node.cert);
    await expect(verifyRevocation(ca.cert, forged)).rejects.toMatchObject({ code: "E_MESSAGE_INVALID" });
  });

  it("refuses to revoke a certificate another CA issued", async () => {
    const ca = await createClusterCa(clusterId);
    const other = await createClusterCa("fedcba9876543210fedcba9876543210");
    const node = await issueCertificate(other, { clusterId, role: "node", name: "node-1" });
    await expect(createRevocation(ca, node.cert)).rejects.toMatchObject({ code: "E_USAGE" });
  });

  // Some bytes of an ECDSA signature's DER wrapping are not covered by the signature (a padding byte the
  // parser strips): changing them may still verify, but then it revokes exactly the same certificate.
  it("a revocation with a byte changed revokes nothing else, and random bytes never verify", async () => {
    const ca = await createClusterCa(clusterId);
    const node = await issueCertificate(ca, { clusterId, role: "node", name: "node-1" });
    const der = await createRevocation(ca, node.cert);
    const original = [serialOfCertificate(node.cert)];
    await fc.assert(
      fc.asyncProperty(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
        const bad = Uint8Array.from(der);
        bad[at] = (bad[at] ?? 0) ^ flip;
        const outcome = await verifyRevocation(ca.cert, bad).catch((err: { code: string }) => err.code);
        expect([original, "E_MESSAGE_INVALID"]).toContainEqual(outcome);
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), async (bytes) => {
        await expect(verifyRevocation(ca.cert, bytes)).rejects.toMatchObject({ code: "E_MESSAGE_INVALID" });
      }),
      { numRuns: 200 },
    );
  });

  it("serial numbers compare whatever their case, leading zeros or colons", () => {
    expect(normalSerial("00AB:cd")).toBe("abcd");
    expect(normalSerial("0000")).toBe("0");
  });
});
