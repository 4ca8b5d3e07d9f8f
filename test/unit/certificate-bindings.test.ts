import { describe, expect, it } from "vitest";
import { createClusterCa, issueCertificate } from "../../src/crypto/certificates.ts";
import { DmfsError } from "../../src/errors.ts";
import { CertificateBindings, certificateName } from "../../src/node/certificate-bindings.ts";

const SELF = "a".repeat(32);
const X = "b".repeat(32);
const Y = "c".repeat(32);

function bindings() {
  return new CertificateBindings({ certName: "node-0", nodeId: SELF });
}

describe("CertificateBindings: one certificate, one node", () => {
  it("lets many connections of one node share its certificate", () => {
    const b = bindings();
    const first = b.claim("node-1", X);
    const second = b.claim("node-1", X);
    expect(first.ok && second.ok).toBe(true);
  });

  it("refuses another node id presenting a certificate in use, naming both, and reports it once", () => {
    const b = bindings();
    expect(b.claim("node-1", X).ok).toBe(true);
    const refused = b.claim("node-1", Y);
    expect(refused).toMatchObject({ ok: false, firstTime: true });
    if (refused.ok) throw new Error("unreachable");
    expect(refused.error.code).toBe("E_CERT_IN_USE");
    expect(refused.error.message).toBe(
      "refused node cccccccc presenting certificate node-1: certificate node-1 is in use by node bbbbbbbb, which is connected now; one certificate is one node",
    );
    expect(b.refusedHere(refused.error)).toBe(true);
    expect(b.claim("node-1", Y)).toMatchObject({ ok: false, firstTime: false });
  });

  it("frees the certificate once the last connection of its node closed", () => {
    const b = bindings();
    const a = b.claim("node-1", X);
    const c = b.claim("node-1", X);
    if (!a.ok || !c.ok) throw new Error("claims refused");
    a.release();
    a.release(); // twice is once
    expect(b.claim("node-1", Y).ok).toBe(false);
    c.release();
    expect(b.claim("node-1", Y).ok).toBe(true);
    expect(b.claim("node-1", X)).toMatchObject({ ok: false, firstTime: true });
  });

  it("refuses a node id presented under a second certificate", () => {
    const b = bindings();
    expect(b.claim("node-1", X).ok).toBe(true);
    const refused = b.claim("node-2", X);
    expect(refused.ok).toBe(false);
    if (!refused.ok)
      expect(refused.error.message).toContain("node id bbbbbbbb belongs to certificate node-1");
  });

  it("never lets another node use this node's own certificate or id, but lets this node reach itself", () => {
    const b = bindings();
    const copy = b.claim("node-0", X);
    expect(copy.ok).toBe(false);
    if (!copy.ok) expect(copy.error.message).toContain("in use by node aaaaaaaa (this node)");
    expect(b.claim("node-5", SELF).ok).toBe(false);
    const self = b.claim("node-0", SELF);
    if (!self.ok) throw new Error("self refused");
    self.release();
    expect(b.claim("node-0", Y).ok).toBe(false);
  });

  it("logs a peer refusing this node's certificate once per address until a dial there succeeds", () => {
    const b = bindings();
    const lines: string[] = [];
    const log = (msg: string, fields: Record<string, unknown>) => lines.push(`${msg} ${String(fields.peer)}`);
    const theirRefusal = new DmfsError("E_CERT_IN_USE", "peer refused: certificate node-0 is in use");
    for (let i = 0; i < 3; i++) b.noteDialFailed("127.0.0.1:9001", theirRefusal, log);
    b.noteDialFailed("127.0.0.1:9002", theirRefusal, log);
    b.noteDialFailed("127.0.0.1:9003", new DmfsError("E_UNREACHABLE", "cannot connect"), log);
    const ours = b.claim("node-0", X);
    if (!ours.ok) b.noteDialFailed("127.0.0.1:9004", ours.error, log); // refused here: logged by the claim
    b.noteDialed("127.0.0.1:9001");
    b.noteDialFailed("127.0.0.1:9001", theirRefusal, log);
    expect(lines).toEqual([
      "refused by a peer: another node process is already using this node's certificate 127.0.0.1:9001",
      "refused by a peer: another node process is already using this node's certificate 127.0.0.1:9002",
      "refused by a peer: another node process is already using this node's certificate 127.0.0.1:9001",
    ]);
  });

  it("reads the node name from a certificate the cluster CA issued", async () => {
    const ca = await createClusterCa("c0ffee");
    const leaf = await issueCertificate(ca, { clusterId: "c0ffee", role: "node", name: "node-7" });
    expect(certificateName(leaf.cert)).toBe("node-7");
  });
});
