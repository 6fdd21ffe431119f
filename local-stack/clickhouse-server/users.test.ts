import { describe, expect, it } from "vitest";
import { readClickHouseServerConfig } from "./config.ts";
import { checkSettingChanges, loadUsersXml } from "./users.ts";

describe("users.d XML", () => {
  const users = loadUsersXml(readClickHouseServerConfig({}).usersXmlPath);
  const agent = users.get("agent")!;

  it("reads docker mode's agent profile: readonly, limits, constraints, own queries only", () => {
    expect(agent.readonly).toBe(true);
    expect(new Map(agent.settings).get("max_execution_time")).toBe("30");
    expect(new Map(agent.settings).get("max_result_rows")).toBe("1000000");
    expect(agent.constraints.get("max_execution_time")).toEqual({
      min: 1,
      max: 600,
      fixed: false,
      changeableInReadonly: true,
    });
    expect(agent.seesAllQueries).toBe(false);
  });

  it("lets the agent lower a limit, never raise or lift one", () => {
    expect(() => checkSettingChanges(agent, true, [["max_execution_time", "10"]])).not.toThrow();
    expect(() => checkSettingChanges(agent, true, [["max_result_rows", "5"]])).not.toThrow();
    expect(() => checkSettingChanges(agent, true, [["async_insert", "0"]])).not.toThrow();
    expect(() => checkSettingChanges(agent, true, [["max_execution_time", "601"]])).toThrow(
      /greater than 600/,
    );
    expect(() => checkSettingChanges(agent, true, [["max_result_rows", "0"]])).toThrow(/SETTING_CONSTRAINT/);
    expect(() => checkSettingChanges(agent, true, [["max_threads", "2"]])).toThrow(/READONLY/);
    expect(() => checkSettingChanges(agent, true, [["async_insert", "1"]])).toThrow(/READONLY/);
  });
});
