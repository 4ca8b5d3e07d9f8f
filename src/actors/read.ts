// Read as an actor: resolve the key or path to its catalog entry, fetch and check the manifest, then
// stream the chunks in order. The steps are provided by the client (src/client/read.ts).
import { operationMachine } from "./file-operation.ts";

export const READ_STEPS = ["resolve", "manifest", "stream"] as const;

export const readMachine = operationMachine("read", READ_STEPS);
