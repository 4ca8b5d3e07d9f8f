// The request limits of a Connection, over an in-memory socket: above the limits no further frame is
// decoded and the socket is paused; settling a request takes the next ones, in order of arrival.
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { describe, expect, it } from "vitest";
import { Connection, type RequestLimits, type Settle } from "../../src/protocol/connection.ts";
import { encodeFrame, FRAME_HEADER_BYTES } from "../../src/protocol/frame.ts";
import type { Message } from "../../src/protocol/messages.ts";

const limits = { maxFrameBytes: 64 * 1024 };

/** The node's side of a link: what the peer writes is pushed in, what the node writes is kept. */
class MemorySocket extends Duplex {
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 1;
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.written.push(chunk);
    done();
  }
}

function serve(requestLimits: RequestLimits | undefined, peerRole: "client" | "node" = "client") {
  const socket = new MemorySocket();
  const counters = { bytesIn: 0, bytesOut: 0, framesRejected: {} as Record<string, number> };
  const conn = new Connection(socket as unknown as TLSSocket, {
    peerRole,
    maxFrameBytes: limits.maxFrameBytes,
    counters,
    ...(requestLimits ? { requestLimits } : {}),
  });
  const received: [Message, Settle][] = [];
  conn.on("message", (m, settle) => received.push([m, settle]));
  conn.resume();
  return { socket, conn, received, counters };
}

const ping = (id: number): Message => ({ t: "ping", id, at: 1_700_000_000_000 + id });
const ids = (received: [Message, Settle][]) => received.map(([m]) => ("id" in m ? m.id : undefined));
const tick = () => new Promise<void>((r) => setImmediate(r));

describe("a connection with request limits", () => {
  it("takes at most maxRequests requests, pauses the socket, and takes the next in order as they settle", async () => {
    const { socket, received } = serve({ maxRequests: 2, maxBytes: 1 << 20 });
    socket.push(Buffer.concat([1, 2, 3, 4, 5].map((id) => encodeFrame(ping(id), limits))));
    await tick();
    expect(ids(received)).toEqual([1, 2]);
    expect(socket.isPaused()).toBe(true);

    received[1]?.[1]();
    received[1]?.[1](); // a second settle of the same request frees nothing more
    await tick();
    expect(ids(received)).toEqual([1, 2, 3]);
    expect(socket.isPaused()).toBe(true);

    for (const [, settle] of [...received]) settle();
    await tick();
    expect(ids(received)).toEqual([1, 2, 3, 4, 5]);
    received[3]?.[1]();
    received[4]?.[1]();
    await tick();
    expect(socket.isPaused()).toBe(false);
  });

  it("counts the bytes of requests in flight against maxBytes", async () => {
    const frame = encodeFrame(ping(1), limits);
    const body = frame.length - FRAME_HEADER_BYTES;
    const { socket, received } = serve({ maxRequests: 100, maxBytes: 2 * body });
    socket.push(Buffer.concat([1, 2, 3, 4].map((id) => encodeFrame(ping(id), limits))));
    await tick();
    expect(ids(received)).toEqual([1, 2]);
    received[0]?.[1]();
    await tick();
    expect(ids(received)).toEqual([1, 2, 3]);
  });

  it("does not count messages that are no requests, nor pause without limits", async () => {
    const limited = serve({ maxRequests: 1, maxBytes: 1 << 20 }, "node");
    const peers: Message = { t: "peers", members: [] };
    limited.socket.push(Buffer.concat([peers, peers, ping(1), peers].map((m) => encodeFrame(m, limits))));
    await tick();
    expect(limited.received.map(([m]) => m.t)).toEqual(["peers", "peers", "ping"]);

    const unlimited = serve(undefined);
    unlimited.socket.push(Buffer.concat([1, 2, 3].map((id) => encodeFrame(ping(id), limits))));
    await tick();
    expect(ids(unlimited.received)).toEqual([1, 2, 3]);
    expect(unlimited.socket.isPaused()).toBe(false);
  });

  it("still rejects a bad frame waiting behind the limits once it is taken, and counts it", async () => {
    const { socket, conn, received, counters } = serve({ maxRequests: 1, maxBytes: 1 << 20 });
    const garbage = Buffer.from([0, 0, 0, 1, 0xc1]);
    socket.push(Buffer.concat([encodeFrame(ping(1), limits), garbage]));
    await tick();
    expect(conn.isClosed).toBe(false);
    received[0]?.[1]();
    await tick();
    expect(conn.isClosed).toBe(true);
    expect(counters.framesRejected).toEqual({ E_FRAME_MALFORMED: 1 });
  });
});
