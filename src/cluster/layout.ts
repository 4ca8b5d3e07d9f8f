// The layout: the numbered set of nodes that own data, each with its capacity (its placement weight).
// Only the admin changes it, by signing a new version with the cluster CA key (crypto/layout-signature.ts);
// nodes take the highest version they have seen and spread it by gossip. A cluster that never had one
// places over every member it knows, all weighing the same: that is version 1, the implicit layout.
import { createHash } from "node:crypto";
import { z } from "zod";
import { DmfsError } from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";
import { homes, type MemberLiveness, placementOrder, placeWrite, type WeightedNode } from "./placement.ts";

export const LAYOUT_FORMAT = 1;
/** A signed layout of 1,024 nodes is about 100 KiB; this bounds what a peer may send. */
export const MAX_LAYOUT_BYTES = 256 * 1024;
export const MAX_LAYOUT_NODES = 1024;
/** The version of the implicit layout, so the first signed one is version 2. */
export const IMPLICIT_LAYOUT_VERSION = 1;

const NodeId = z.string().regex(/^[0-9a-f]{32}$/);
/**
 * A zone's name (a room, a site) as the config and the flags take it: nodes naming the same zone may
 * fail together. The layout format itself takes any 1-64 characters, as it always did.
 */
export const ZoneName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\s\p{Cc}]+$/u, "a zone name has no spaces or control characters");

export const LayoutNode = z.strictObject({
  nodeId: NodeId,
  /** The node certificate's name (node-3), when the admin knew it. */
  name: z.string().min(1).max(64).optional(),
  /** Bytes; only ratios matter for placement. */
  capacity: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  zone: z.string().min(1).max(64).optional(),
});
export type LayoutNode = z.infer<typeof LayoutNode>;

export const Layout = z
  .strictObject({
    v: z.literal(LAYOUT_FORMAT),
    clusterId: z.string().regex(/^[0-9a-f]{32}$/),
    version: z.number().int().min(IMPLICIT_LAYOUT_VERSION).max(Number.MAX_SAFE_INTEGER),
    /** Milliseconds since 1970, when the admin signed it (shown, never compared). */
    issuedAt: z.number().int().nonnegative(),
    nodes: z.array(LayoutNode).min(1).max(MAX_LAYOUT_NODES),
  })
  .refine((l) => new Set(l.nodes.map((n) => n.nodeId)).size === l.nodes.length, "a node is listed twice");
export type Layout = z.infer<typeof Layout>;

export function encodeLayout(layout: Layout): Buffer {
  return encode(Layout.parse(layout));
}

/** Decodes and checks a layout body; anything else is E_MESSAGE_INVALID. */
export function decodeLayout(bytes: Uint8Array): Layout {
  if (bytes.length > MAX_LAYOUT_BYTES) throw invalid(`it is larger than ${MAX_LAYOUT_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw invalid("it is not valid msgpack");
  }
  const parsed = Layout.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error.issues[0]?.message ?? "it does not match the schema");
  return parsed.data;
}

/** The implicit layout of a cluster that never had a signed one: every known member, equal weights. */
export function implicitLayout(clusterId: string, nodeIds: readonly string[]): Layout {
  return {
    v: LAYOUT_FORMAT,
    clusterId,
    version: IMPLICIT_LAYOUT_VERSION,
    issuedAt: 0,
    nodes: [...new Set(nodeIds)].sort().map((nodeId) => ({ nodeId, capacity: 1 })),
  };
}

/** The layout that follows `layout` with `change` applied to its nodes (at least one must remain). */
export function nextLayout(
  layout: Layout,
  change: (nodes: LayoutNode[]) => LayoutNode[],
  issuedAt = Date.now(),
): Layout {
  const nodes = change(layout.nodes.map((n) => ({ ...n })));
  if (nodes.length === 0) {
    throw new DmfsError("E_USAGE", "A layout needs at least one node; this change would leave none.");
  }
  return Layout.parse({ ...layout, version: layout.version + 1, issuedAt, nodes });
}

/**
 * Which of two layouts wins: the higher version; at the same version (two admins signed at once) the
 * one whose bytes hash higher, so every node picks the same one.
 */
export function newerLayout<T extends { layout: Layout; bytes: Uint8Array }>(a: T, b: T): T {
  if (a.layout.version !== b.layout.version) return a.layout.version > b.layout.version ? a : b;
  return digestOf(a.bytes) >= digestOf(b.bytes) ? a : b;
}

/** The layout's nodes as placement weights and zones. */
export function weightedNodes(layout: Layout): WeightedNode[] {
  return layout.nodes.map((n) => ({ nodeId: n.nodeId, weight: n.capacity, zone: n.zone }));
}

/** The `replication` nodes of `layout` that should hold `chunkId`. */
export function homesIn(layout: Layout, chunkId: string, replication: number): string[] {
  return homes(chunkId, weightedNodes(layout), replication);
}

/** Every node of `layout` in placement order for `chunkId`: its homes first. */
export function rankedIn(layout: Layout, chunkId: string): string[] {
  return placementOrder(chunkId, weightedNodes(layout));
}

/** Where a write goes under `layout`: its top `replication` alive nodes. */
export function writeTargetsIn(
  layout: Layout,
  chunkId: string,
  isAlive: (nodeId: string) => boolean,
  replication: number,
): string[] {
  const members: MemberLiveness[] = layout.nodes.map((n) => ({
    nodeId: n.nodeId,
    alive: isAlive(n.nodeId),
    weight: n.capacity,
    zone: n.zone,
  }));
  return placeWrite(chunkId, members, replication);
}

/**
 * Finds a node of the layout by certificate name or by node id (or a prefix of at least 4 hex
 * characters that only one node has); anything else is E_NOT_FOUND or E_USAGE.
 */
export function findLayoutNode(layout: Layout, which: string): LayoutNode {
  const byName = layout.nodes.filter((n) => n.name === which);
  if (byName.length === 1) return byName[0] as LayoutNode;
  const byId = /^[0-9a-f]{4,32}$/.test(which) ? layout.nodes.filter((n) => n.nodeId.startsWith(which)) : [];
  if (byId.length === 1) return byId[0] as LayoutNode;
  if (byId.length > 1) {
    throw new DmfsError("E_USAGE", `${which} is the start of ${byId.length} node ids; give more of it.`);
  }
  throw new DmfsError(
    "E_NOT_FOUND",
    `No node named or with id ${which} is in layout version ${layout.version} (dmfs cluster layout lists them).`,
    { subject: which },
  );
}

function digestOf(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function invalid(why: string): DmfsError {
  return new DmfsError("E_MESSAGE_INVALID", `The layout is not valid: ${why}.`);
}
