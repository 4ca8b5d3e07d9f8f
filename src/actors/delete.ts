// Delete as an actor: resolve the key or path to its catalog entry, then commit a tombstone for its
// path, which every node keeps for the grace period. The steps are provided by the client.
import { operationMachine } from "./file-operation.ts";

export const DELETE_STEPS = ["resolve", "commit"] as const;

export const deleteMachine = operationMachine("delete", DELETE_STEPS);
