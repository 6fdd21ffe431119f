import { describe, expect, it } from "vitest";
import { keyMinute, MINUTE_PARTITION_FORMAT, minutePartitionPrefix } from "../../shared/awss3-layout.ts";
import { readCollectorConfig } from "../config.ts";
import {
  formatPartition,
  type KeyLayout,
  objectKey,
  objectKeyPattern,
  randomNineDigits,
  uuidv7,
} from "./layout.ts";

const layout: KeyLayout = {
  prefix: "otlp",
  partitionFormat: "year=%Y/month=%m/day=%d/hour=%H/minute=%M",
  filePrefix: "",
  marshaler: "otlp_json",
  compression: "none",
};

describe("awss3 exporter key layout", () => {
  const time = Date.UTC(2026, 0, 5, 7, 9, 59, 999);

  it("builds [prefix/]year=/month=/day=/hour=/minute=/<file_prefix>traces_<unique>.<ext>[.gz] in UTC", () => {
    expect(objectKey(layout, time, "123456789")).toBe(
      "otlp/year=2026/month=01/day=05/hour=07/minute=09/traces_123456789.json",
    );
    expect(
      objectKey(
        { ...layout, prefix: "", marshaler: "otlp_proto", compression: "gzip", filePrefix: "c-" },
        time,
        "987654321",
      ),
    ).toBe("year=2026/month=01/day=05/hour=07/minute=09/c-traces_987654321.binpb.gz");
    expect(objectKey({ ...layout, compression: "gzip" }, time, "1")).toMatch(/\.json\.gz$/);
  });

  it("formats strftime directives and keeps literal text", () => {
    expect(formatPartition("%Y/%m/%d/%H/%M/%S %%", new Date(time))).toBe("2026/01/05/07/09/59 %");
  });

  it("makes unique parts the pattern accepts: 9 digits or a UUIDv7 carrying the time", () => {
    const pattern = objectKeyPattern(layout);
    for (let i = 0; i < 200; i++) {
      const digits = randomNineDigits();
      expect(digits).toMatch(/^[1-9]\d{8}$/);
      expect(objectKey(layout, time, digits)).toMatch(pattern);
    }
    const id = uuidv7(time);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16)).toBe(time);
    expect(objectKey(layout, time, id)).toMatch(pattern);
    expect(objectKey({ ...layout, marshaler: "otlp_proto" }, time, id)).not.toMatch(pattern);
    expect("otlp/year=2026/month=1/day=05/hour=07/minute=09/traces_123456789.json").not.toMatch(pattern);
  });
});

describe("the layout contract with the loader (shared/awss3-layout.ts)", () => {
  it("writes, by default, keys whose minute partition the loader reads back", () => {
    const config = readCollectorConfig({});
    expect(config.partitionFormat).toBe(MINUTE_PARTITION_FORMAT);
    const written = Date.UTC(2026, 10, 27, 23, 59, 41);
    const key = objectKey(
      { ...layout, partitionFormat: config.partitionFormat },
      written,
      randomNineDigits(),
    );
    expect(keyMinute(key)).toBe(Date.UTC(2026, 10, 27, 23, 59));
    expect(key.startsWith(minutePartitionPrefix("otlp", Date.UTC(2026, 10, 27, 23, 59)))).toBe(true);
  });
});
