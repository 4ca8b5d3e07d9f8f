// Which certificate role may send which message. A node rejects any message whose type is unknown or
// not allowed for the role in the sender's certificate.

import type { MessageType, PeerRole } from "./messages.ts";

type Senders = "node" | "client" | "both";

// One line per message type; the compiler insists every type has one.
const sendersByType: Readonly<Record<MessageType, Senders>> = {
  hello: "both",
  error: "both",
  ok: "both",
  ping: "both",
  pong: "both",
  peers: "node",
  "chunk.put": "node",
  "chunk.get": "node",
  "chunk.data": "node",
  "chunk.has": "node",
  "chunk.have": "node",
  "catalog.push": "node",
  "catalog.digest": "node",
  "catalog.digest.reply": "node",
  "catalog.pull": "node",
  "catalog.entries": "node",
  "catalog.ack": "node",
  status: "both",
  "status.reply": "node",
  "status.update": "node",
  "file.begin": "client",
  "file.begun": "node",
  "file.chunk.write": "client",
  "file.chunk.read": "client",
  "file.commit": "client",
  // Both: a node that misses a client's lookup asks its peers (node/file-lookup.ts).
  "file.lookup": "both",
  "file.entry": "node",
  "catalog.changes": "client",
  "catalog.changes.page": "node",
  "chunk.locate": "client",
  "chunk.locations": "node",
  "cluster.revoke": "client",
  "chunk.touch": "node",
  "file.chunk.touch": "client",
  "gc.run": "client",
  "gc.done": "node",
  "layout.set": "client",
  "layout.get": "client",
  "layout.reply": "node",
};

/** Whether a peer whose certificate has `role` may send a message of type `t`. */
export function allowedFrom(role: PeerRole, t: string): boolean {
  // hasOwn: a peer-chosen `t` such as "constructor" must not find Object.prototype's members.
  if (!Object.hasOwn(sendersByType, t)) return false;
  const senders = sendersByType[t as MessageType];
  return senders === "both" || senders === role;
}
