// Which peers said, in their last heartbeat, that their disk is below its free-space reserve. Writes
// skip them (the next-ranked nodes with room take the copies) and repair waits for them to have room.
export class FullPeers {
  private readonly full = new Set<string>();

  /** Called when a peer that was full says it has room again: copies it missed can go to it now. */
  constructor(private readonly onRoomAgain: (nodeId: string) => void = () => {}) {}

  /** Records what a peer's heartbeat said (a peer that says nothing has room). */
  heard(nodeId: string, full: boolean | undefined): void {
    if (full === true) {
      this.full.add(nodeId);
    } else if (this.full.delete(nodeId)) {
      this.onRoomAgain(nodeId);
    }
  }

  isFull(nodeId: string): boolean {
    return this.full.has(nodeId);
  }

  /** A copy the peer refused for lack of room: treat it as full until its next heartbeat says otherwise. */
  refused(nodeId: string): void {
    this.full.add(nodeId);
  }
}
