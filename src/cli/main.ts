// The `dmfs` entry. V8 is tuned before anything else loads: loading the command line's modules is what
// first grows the heap, and some of V8's settings only act on growth still to come.
import { tuneGarbageCollection } from "./garbage-collection.ts";

tuneGarbageCollection();
await import("./program.ts");
