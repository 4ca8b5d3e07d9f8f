// Which peers said, in their last heartbeat, that they take no new copies - their disk is below its
// free-space reserve, or they are read-only after missing a purge. Writes skip them (the next-ranked
// nodes with room take the copies) and repair waits for them to have room.
export class FullPeers {
  private readonly full = new Set<string>();
  private readonly readOnly = new Set<string>();

  /** Called when a peer that was full says it has room again: copies it missed can go to it now. */
  constructor(private readonly onRoomAgain: (nodeId: string) => void = () => {}) {}

  /** Records what a peer's heartbeat said (a peer that says nothing has room). */
  heard(nodeId: string, full: boolean | undefined, readOnly?: boolean): void {
    if (readOnly === true) this.readOnly.add(nodeId);
    else this.readOnly.delete(nodeId);
    if (full === true || readOnly === true) {
      this.full.add(nodeId);
    } else if (this.full.delete(nodeId)) {
      this.onRoomAgain(nodeId);
    }
  }

  isFull(nodeId: string): boolean {
    return this.full.has(nodeId);
  }

  /** Whether the peer takes no new copies because it is read-only (it said so in its last heartbeat). */
  isReadOnly(nodeId: string): boolean {
    return this.readOnly.has(nodeId);
  }

  /** A copy the peer refused for lack of room: treat it as full until its next heartbeat says otherwise. */
  refused(nodeId: string): void {
    this.full.add(nodeId);
  }
}
