// What the gateway, repair and anti-entropy need to know of the mesh, read from the node actor's state:
// which members exist, which are alive, and the open link to each. Kept as an interface so those parts
// can be tested with a fake mesh.
import type { Member } from "../actors/node.ts";
import type { Connection } from "../protocol/connection.ts";

export interface MeshView {
  readonly selfId: string;
  /** Every known member but this node, whatever its state. */
  members(): Member[];
  /** The open link to `nodeId`, if that peer is alive and connected now. */
  connection(nodeId: string): Connection | undefined;
}

/** This node and every member, each with whether it is alive now (this node always is). */
export function liveness(mesh: MeshView): { nodeId: string; alive: boolean }[] {
  return [
    { nodeId: mesh.selfId, alive: true },
    ...mesh
      .members()
      .map((m) => ({ nodeId: m.nodeId, alive: m.state === "alive" && !!mesh.connection(m.nodeId) })),
  ];
}

export function aliveCount(mesh: MeshView): number {
  return liveness(mesh).filter((m) => m.alive).length;
}
