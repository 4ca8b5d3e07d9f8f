// What peers' heartbeats say about taking new copies: full, read-only, or room again.
import { describe, expect, it } from "vitest";
import { FullPeers } from "../../src/cluster/full-peers.ts";

const PEER = "a".repeat(32);

describe("full peers", () => {
  it("a read-only peer takes no copies and is told apart from a full one, until a heartbeat says it has room", () => {
    const roomAgain: string[] = [];
    const peers = new FullPeers((id) => roomAgain.push(id));
    peers.heard(PEER, true, true);
    expect(peers.isFull(PEER)).toBe(true);
    expect(peers.isReadOnly(PEER)).toBe(true);
    peers.heard(PEER, true);
    expect(peers.isFull(PEER)).toBe(true);
    expect(peers.isReadOnly(PEER)).toBe(false);
    expect(roomAgain).toEqual([]);
    peers.heard(PEER, undefined, undefined);
    expect(peers.isFull(PEER)).toBe(false);
    expect(roomAgain).toEqual([PEER]);
  });

  it("a peer that says it is read-only without `full` still takes no copies", () => {
    const peers = new FullPeers();
    peers.heard(PEER, undefined, true);
    expect(peers.isFull(PEER)).toBe(true);
    expect(peers.isReadOnly(PEER)).toBe(true);
  });
});
