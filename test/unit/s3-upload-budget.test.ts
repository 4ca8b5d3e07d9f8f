// `dmfs s3 --upload-budget`: a size, turned into the chunks all uploads may have in flight together.
import { describe, expect, it } from "vitest";
import { parseUploadBudget, UPLOAD_BUDGET_BYTES, uploadBudgetChunks } from "../../src/cli/s3.ts";
import { isDmfsError } from "../../src/errors.ts";

const MiB = 1024 * 1024;

describe("--upload-budget", () => {
  it("counts whole chunks of the budget, at least two", () => {
    const chunks = (budget: string, chunkSize: number) =>
      uploadBudgetChunks(parseUploadBudget(budget), chunkSize);
    expect(chunks(`${UPLOAD_BUDGET_BYTES / MiB}MiB`, MiB)).toBe(8);
    expect(chunks("64MiB", MiB)).toBe(64);
    expect(chunks("1G", 4 * MiB)).toBe(256);
    expect(chunks("1536K", MiB)).toBe(2);
    expect(chunks("1", MiB)).toBe(2);
    expect(chunks("8MiB", 64 * 1024)).toBe(128);
  });

  it("refuses what is not a size with a usage error naming the flag", () => {
    for (const bad of ["", "lots", "-1", "0", "8 parsecs", "1e9"]) {
      let caught: unknown;
      try {
        parseUploadBudget(bad);
      } catch (err) {
        caught = err;
      }
      expect(isDmfsError(caught, "E_USAGE"), bad).toBe(true);
      expect((caught as Error).message).toContain("--upload-budget must be a size");
    }
  });
});
