// Child process of the end-to-end suite's TLS limit: a mutual-TLS server with the same options as a
// DMFS node (src/protocol/tls.ts), which discards what it receives and, when the sender ends, answers
// with the byte count (8 bytes, big-endian). It prints {"port":N} once it listens and runs until killed.
// Usage: node --import tsx bench/e2e-tls-sink.ts <cluster dir>

import { join } from "node:path";
import { createServer } from "node:tls";
import { loadNodeBundle } from "../src/cluster/cluster-dir.ts";
import { DmfsError } from "../src/errors.ts";
import { serverOptions } from "../src/protocol/tls.ts";

const clusterDir = process.argv[2];
if (clusterDir === undefined) {
  throw new DmfsError("E_USAGE", "e2e-tls-sink needs the cluster directory as its argument.");
}
const identity = await loadNodeBundle(join(clusterDir, "nodes", "node-0"));
// Half-open, so the count can still be written after the sender has ended its side.
const server = createServer({ ...serverOptions(identity), allowHalfOpen: true }, (socket) => {
  let received = 0n;
  socket.on("data", (data: Buffer) => {
    received += BigInt(data.length);
  });
  socket.on("end", () => {
    const count = Buffer.alloc(8);
    count.writeBigUInt64BE(received);
    socket.end(count);
  });
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" ? address?.port : null })}\n`);
});
