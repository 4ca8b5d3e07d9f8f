// Upload as an actor: check the write quorum, stream the file's sealed chunks to the gateway, store the
// manifest, commit the catalog entry. The steps are provided by the client (src/client/upload.ts).
import { operationMachine } from "./file-operation.ts";

export const UPLOAD_STEPS = ["begin", "send", "manifest", "commit"] as const;

export const uploadMachine = operationMachine("upload", UPLOAD_STEPS);
