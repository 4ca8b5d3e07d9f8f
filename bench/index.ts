// Benchmarks: `npm run bench -- <suite> [--json]`. Each suite lives in its own file and reports one
// record per measured case; this runner prints them as a table (default) or as JSON lines (--json).
import { parseArgs } from "node:util";

export type BenchRecord = { suite: string; case: string } & Record<string, string | number | null>;

export type BenchColumn = { field: string; title: string; format?: (value: BenchRecord[string]) => string };

export type BenchSuite = {
  /** The record fields a table shows, in order. */
  columns: readonly BenchColumn[];
  run(report: (record: BenchRecord) => void): Promise<void>;
};

const SUITES: Record<string, () => Promise<BenchSuite>> = {
  pool: async () => (await import("./pool.ts")).poolSuite,
  e2e: async () => (await import("./e2e.ts")).e2eSuite,
  gc: async () => (await import("./gc.ts")).gcSuite,
  listing: async () => (await import("./listing.ts")).listingSuite,
  range: async () => (await import("./range.ts")).rangeSuite,
  s3: async () => (await import("./s3.ts")).s3Suite,
  "s3-memory": async () => (await import("./s3-memory.ts")).s3MemorySuite,
  "small-chunks": async () => (await import("./small-chunks.ts")).smallChunksSuite,
};

const COLUMN_WIDTH = 12;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { json: { type: "boolean", default: false } },
    allowPositionals: true,
  });
  const [name, ...extra] = positionals;
  const load = name === undefined ? undefined : SUITES[name];
  if (load === undefined || extra.length > 0) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(SUITES).join("|")}> [--json]\n`);
    process.exitCode = 2;
    return;
  }
  const suite = await load();
  if (values.json) {
    await suite.run((record) => process.stdout.write(`${JSON.stringify(record)}\n`));
    return;
  }
  // Rows print as each case finishes, so a long run shows progress.
  const row = (cells: string[]) => `${cells.map((cell) => cell.padStart(COLUMN_WIDTH)).join(" ")}\n`;
  process.stdout.write(row(suite.columns.map((column) => column.title)));
  await suite.run((record) => {
    const cells = suite.columns.map(({ field, format }) => {
      const value = record[field] ?? null;
      return format ? format(value) : String(value ?? "-");
    });
    process.stdout.write(row(cells));
  });
}

await main();
