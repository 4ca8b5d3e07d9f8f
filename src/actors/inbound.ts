// Serves one inbound connection: each request goes to the node's handlers and its reply (or an error
// reply) goes back with the request's id. Gossip is passed up to the node actor. Requests start in the
// order they arrive and run concurrently up to the connection's request limits; a handler's failure
// answers that request only.
import { fromCallback } from "xstate";
import type { Connection, Settle } from "../protocol/connection.ts";
import type { Hello, Message } from "../protocol/messages.ts";
import type { NodeEvent } from "./node.ts";

export interface InboundContext {
  conn: Connection;
  hello: Hello;
}

/** Returns the reply to send, or undefined for messages that need none. */
export type RequestHandler = (message: Message, from: InboundContext) => Promise<Message | undefined>;

export function createInboundServer(handle: RequestHandler) {
  return fromCallback<NodeEvent, { id: string; conn: Connection; hello: Hello }>(({ input, sendBack }) => {
    const { conn, hello, id } = input;
    const from: InboundContext = { conn, hello };
    const onMessage = (m: Message, settle: Settle) => {
      // Gossip: the members go to the node actor, the revocations to the handlers (no reply).
      if (m.t === "peers") sendBack({ type: "members.discovered", members: m.members });
      // Settled once the reply is on its way out, so a peer that does not read its replies stops
      // being read from as well.
      handle(m, from)
        .then(
          (reply) => (reply ? conn.send(reply) : undefined),
          (err: unknown) => ("id" in m && typeof m.id === "number" ? conn.replyError(m.id, err) : undefined),
        )
        .catch(() => undefined)
        .finally(settle);
    };
    const onClose = () => sendBack({ type: "inbound.closed", id });
    conn.on("message", onMessage);
    conn.once("close", onClose);
    conn.resume();
    if (conn.isClosed) onClose();
    return () => {
      conn.off("message", onMessage);
      conn.off("close", onClose);
      conn.close(undefined);
    };
  });
}
