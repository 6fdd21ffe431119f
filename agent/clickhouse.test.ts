import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { agentClientSettings } from "./clickhouse.ts";

const USERS_XML = fileURLToPath(
  new URL("../docker/clickhouse-server-config/users.d/click-ai.xml", import.meta.url),
);

/** The agent profile of the docker-mode server: its fixed values and the settings changeable in readonly mode. */
function agentProfile(): { values: Record<string, string>; changeable: Set<string> } {
  const xml = readFileSync(USERS_XML, "utf8").replace(/<!--[\s\S]*?-->/g, "");
  const profile = /<clickai_agent>([\s\S]*?)<\/clickai_agent>/.exec(xml)?.[1] ?? "";
  const constraints = /<constraints>([\s\S]*?)<\/constraints>/.exec(profile)?.[1] ?? "";
  const changeable = new Set(
    [...constraints.matchAll(/<(\w+)>((?:(?!<\/\1>)[\s\S])*)<\/\1>/g)]
      .filter((m) => m[2]!.includes("<changeable_in_readonly/>"))
      .map((m) => m[1]!),
  );
  const values: Record<string, string> = {};
  for (const m of profile.replace(constraints, "").matchAll(/<(\w+)>([^<]*)<\/\1>/g))
    values[m[1]!] = m[2]!.trim();
  return { values, changeable };
}

describe("agent ClickHouse settings", () => {
  it("forces readonly=1, a time limit and a result cap on every request", () => {
    const settings = agentClientSettings({ queryTimeoutMs: 10_000, sqlRowCap: 5000 });
    expect(settings).toMatchObject({
      readonly: "1",
      max_execution_time: "10",
      max_result_rows: "5000",
      result_overflow_mode: "break",
    });
  });

  it("sends only settings a readonly=1 user may send to the docker-mode server", () => {
    const { values, changeable } = agentProfile();
    expect(values.readonly).toBe("1");
    const settings = agentClientSettings({ queryTimeoutMs: 10_000, sqlRowCap: 5000 });
    const refused = Object.entries(settings).filter(
      ([name, value]) => values[name] !== value && !changeable.has(name),
    );
    expect(refused).toEqual([]);
  });
});
