import { describe, expect, it } from "vitest";
import { floorFields, perGiB, readFloor, uploadFloor } from "../../bench/e2e-floor.ts";

const costs = { seal: 1, open: 0.9, tlsHop: 0.5, blake3: 0.2, writeCopy: 0.3 };

describe("the CPU floor of an end-to-end case", () => {
  it("charges an upload one seal and, per copy, one hop, one id check and one written copy", () => {
    expect(uploadFloor(costs, 1)).toBeCloseTo(1 + 0.5 + 0.2 + 0.3);
    expect(uploadFloor(costs, 3)).toBeCloseTo(1 + 3 * (0.5 + 0.2 + 0.3));
  });

  it("charges a read one open, one hop and the holder's id check, whatever the replication", () => {
    expect(readFloor(costs)).toBeCloseTo(0.9 + 0.5 + 0.2);
  });

  it("gives CPU per GiB and efficiency as floor over spent", () => {
    const GiB = 1024 ** 3;
    expect(perGiB(3, 512 * 1024 ** 2)).toBeCloseTo(6);
    expect(floorFields(8, 2 * GiB, 2)).toEqual({ cpuSecPerGiB: 4, floorCpuSecPerGiB: 2, efficiency: 0.5 });
  });
});
