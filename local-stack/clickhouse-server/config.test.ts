import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/config/env.ts";
import { defaultMaxMemoryBytes, readClickHouseServerConfig } from "./config.ts";

describe("readClickHouseServerConfig", () => {
  it("has laptop defaults under the data dir", () => {
    const config = readClickHouseServerConfig({ CLICKAI_DATA_DIR: "/tmp/clickai" });
    expect(config.host).toBe("127.0.0.1");
    expect(config.port).toBe(8123);
    expect(config.dataDir).toBe("/tmp/clickai/clickhouse");
    expect(config.maxMemoryBytes).toBeLessThanOrEqual(4 * 1024 ** 3);
    expect(config.users).toEqual([
      { name: "default", password: "", readonly: false },
      { name: "agent", password: "agent", readonly: true },
    ]);
  });

  it("follows CLICKHOUSE_URL's port and reads sizes and users", () => {
    const config = readClickHouseServerConfig({
      CLICKHOUSE_URL: "http://127.0.0.1:18123",
      CLICKHOUSE_SERVER_MAX_MEMORY: "2GiB",
      CLICKHOUSE_PASSWORD: "pw",
      CLICKHOUSE_AGENT_USER: "bot",
      CLICKHOUSE_AGENT_PASSWORD: "bpw",
    });
    expect(config.port).toBe(18123);
    expect(config.maxMemoryBytes).toBe(2 * 1024 ** 3);
    expect(config.users.map((u) => [u.name, u.password, u.readonly])).toEqual([
      ["default", "pw", false],
      ["bot", "bpw", true],
    ]);
    expect(readClickHouseServerConfig({ CLICKHOUSE_URL: "http://db.example:9000" }).port).toBe(8123);
    expect(readClickHouseServerConfig({ CLICKHOUSE_SERVER_PORT: "0" }).port).toBe(0);
  });

  it("rejects bad values naming the variable", () => {
    expect(() => readClickHouseServerConfig({ CLICKHOUSE_SERVER_MAX_MEMORY: "lots" })).toThrow(
      /CLICKHOUSE_SERVER_MAX_MEMORY/,
    );
    expect(() => readClickHouseServerConfig({ CLICKHOUSE_SERVER_PORT: "70000" })).toThrow(ConfigError);
    expect(() => readClickHouseServerConfig({ CLICKHOUSE_SERVER_ENGINE_ARGS: "--path=/x" })).toThrow(
      /ENGINE_ARGS/,
    );
    expect(() => readClickHouseServerConfig({ CLICKHOUSE_AGENT_USER: "default" })).toThrow(
      /CLICKHOUSE_AGENT_USER/,
    );
  });

  it("sizes the memory cap from RAM within 1-4 GiB", () => {
    expect(defaultMaxMemoryBytes(1024 ** 3)).toBe(1024 ** 3);
    expect(defaultMaxMemoryBytes(5 * 1024 ** 3)).toBe(2 * 1024 ** 3);
    expect(defaultMaxMemoryBytes(64 * 1024 ** 3)).toBe(4 * 1024 ** 3);
  });
});
