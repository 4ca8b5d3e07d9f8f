// A signed layout: the layout's bytes and an ECDSA P-256 / SHA-256 signature over them by the cluster
// CA key, which only the admin holds. Like a revocation, it may travel through any node or client without
// being trusted: every node checks it against the CA certificate in its bundle.
import { sign, verify, X509Certificate } from "node:crypto";
import { z } from "zod";
import { decodeLayout, encodeLayout, type Layout, MAX_LAYOUT_BYTES } from "../cluster/layout.ts";
import { DmfsError } from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";

const SIGNED_LAYOUT_FORMAT = 1;
const MAX_SIGNATURE_BYTES = 128; // a DER ECDSA P-256 signature is at most 72

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const Envelope = z.strictObject({
  v: z.literal(SIGNED_LAYOUT_FORMAT),
  body: z.custom<Uint8Array>(isBytes, "expected binary"),
  sig: z.custom<Uint8Array>(isBytes, "expected binary"),
});

export interface VerifiedLayout {
  layout: Layout;
  /** The signed envelope as received: what nodes store and gossip. */
  bytes: Uint8Array;
}

/** Signs `layout` with the CA key (PKCS#8 PEM); returns the envelope's bytes. */
export function signLayout(caKeyPem: string, layout: Layout): Uint8Array {
  const body = encodeLayout(layout);
  const sig = sign("sha256", body, caKeyPem);
  return new Uint8Array(encode({ v: SIGNED_LAYOUT_FORMAT, body, sig }));
}

/**
 * Checks a signed layout against the cluster CA certificate and cluster id. Not a signed layout, a
 * signature that does not verify or another cluster's layout is E_MESSAGE_INVALID.
 */
export function verifyLayout(caPem: string, clusterId: string, bytes: Uint8Array): VerifiedLayout {
  if (bytes.length > MAX_LAYOUT_BYTES + MAX_SIGNATURE_BYTES + 64) throw invalid("it is too large");
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw invalid("it is not valid msgpack");
  }
  const envelope = Envelope.safeParse(raw);
  if (!envelope.success) throw invalid("it is not a signed layout");
  const { body, sig } = envelope.data;
  if (sig.length > MAX_SIGNATURE_BYTES) throw invalid("its signature is too long");
  let signed = false;
  try {
    signed = verify("sha256", body, new X509Certificate(caPem).publicKey, sig);
  } catch {
    signed = false;
  }
  if (!signed) throw invalid("its signature does not verify against this cluster's CA");
  const layout = decodeLayout(body);
  if (layout.clusterId !== clusterId) throw invalid("it belongs to another cluster");
  return { layout, bytes };
}

function invalid(why: string): DmfsError {
  return new DmfsError("E_MESSAGE_INVALID", `The layout is not valid: ${why}.`);
}
