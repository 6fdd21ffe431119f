import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { readClickHouseConfig } from "./clickhouse.ts";
import { ConfigError, parseBytes, parseDurationMs, readBool, readInt, readPort } from "./env.ts";
import { readS3Config } from "./s3.ts";

describe("config readers", () => {
  it("uses local-stack defaults when nothing is set", () => {
    expect(readClickHouseConfig({})).toMatchObject({
      url: "http://127.0.0.1:8123",
      database: "otel",
      username: "default",
    });
    expect(readS3Config({})).toMatchObject({
      endpoint: "http://127.0.0.1:9002",
      bucket: "traces",
      prefix: "otlp",
    });
  });

  it("names the variable and the problem", () => {
    expect(() => readInt({ N: "ten" }, "N", 1)).toThrow(
      new ConfigError("N", 'expected an integer, got "ten"'),
    );
    expect(() => readPort({ P: "70000" }, "P", 1)).toThrow("P: must be <= 65535, got 70000");
    expect(() => readBool({ B: "maybe" }, "B", true)).toThrow('B: expected true/false, got "maybe"');
    expect(() => readClickHouseConfig({ CLICKHOUSE_URL: "ftp://x" })).toThrow(
      /^CLICKHOUSE_URL: expected an http/,
    );
    expect(() => readClickHouseConfig({ CLICKHOUSE_DATABASE: "otel; DROP" })).toThrow(
      /^CLICKHOUSE_DATABASE:/,
    );
    expect(() => readS3Config({ S3_BUCKET: "Bad_Bucket" })).toThrow(/^S3_BUCKET: not a valid bucket name/);
  });

  it("refuses credentials inside URLs so they cannot reach a log line", () => {
    expect(() => readClickHouseConfig({ CLICKHOUSE_URL: "http://u:hunter2@host:8123" })).toThrow(
      /must not contain credentials/,
    );
    try {
      readClickHouseConfig({ CLICKHOUSE_URL: "http://u:hunter2@host:8123" });
    } catch (error) {
      expect(String(error)).not.toContain("hunter2");
    }
  });

  it("parses durations and sizes", () => {
    expect(parseDurationMs("250ms")).toBe(250);
    expect(parseDurationMs("2m")).toBe(120_000);
    expect(parseDurationMs("soon")).toBeUndefined();
    expect(parseBytes("8MiB")).toBe(8 * 1024 * 1024);
    expect(parseBytes("1.5kb")).toBe(1500);
    expect(parseBytes("lots")).toBeUndefined();
  });
});

describe("a command with a bad setting", () => {
  it("exits 2 with one line naming the variable, and never prints a secret", () => {
    const require = createRequire(import.meta.url);
    const result = spawnSync(
      process.execPath,
      ["--import", require.resolve("tsx"), "local-stack/migrate.ts"],
      {
        env: { ...process.env, CLICKHOUSE_URL: "not a url", CLICKHOUSE_PASSWORD: "s3cret-value" },
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe('migrate: invalid configuration: CLICKHOUSE_URL: not a valid URL: "not a url"');
    expect(result.stderr + result.stdout).not.toContain("s3cret-value");
  });
});

describe("logger", () => {
  it("redacts secrets in log records", () => {
    const script = `
      import { createLogger } from "./shared/logger.ts";
      const log = createLogger("t", { pretty: false });
      log.info({ config: { password: "pw-123", secretAccessKey: "sk-456", url: "http://x" } }, "cfg");
    `;
    const require = createRequire(import.meta.url);
    const out = execFileSync(
      process.execPath,
      ["--import", require.resolve("tsx"), "--input-type=module", "-e", script],
      {
        encoding: "utf8",
      },
    );
    const record = JSON.parse(out.trim());
    expect(record.config).toEqual({ password: "[redacted]", secretAccessKey: "[redacted]", url: "http://x" });
  });
});
