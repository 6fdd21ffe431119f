import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PINNED_SETTINGS } from "../../shared/clickhouse.ts";
import { type StartedClickHouseServer, startClickHouseServer } from "./launch.ts";
import { errorOf } from "./testing/error-of.ts";

const ADMIN_PASSWORD = "s3cret-admin-pw";
const AGENT_PASSWORD = "s3cret-agent-pw";

let server: StartedClickHouseServer;
let admin: ClickHouseClient;
let agent: ClickHouseClient;
const logLines: string[] = [];
const clients: ClickHouseClient[] = [];
// A local HTTP endpoint the url() table function could reach if readonly failed.
let canary: http.Server;
let canaryHits = 0;

function newClient(username: string, password: string): ClickHouseClient {
  const created = createClient({
    url: server.url,
    log: { level: ClickHouseLogLevel.OFF },
    username,
    password,
    database: "secure",
    clickhouse_settings: PINNED_SETTINGS,
  });
  clients.push(created);
  return created;
}

async function count(): Promise<string> {
  const result = await admin.query({ query: "SELECT count() AS c FROM secure.t", format: "JSONEachRow" });
  return ((await result.json<{ c: string }>())[0] as { c: string }).c;
}

beforeAll(async () => {
  canary = http.createServer((_req, res) => {
    canaryHits++;
    res.end("leaked\n");
  });
  await new Promise<void>((resolve) => canary.listen(0, "127.0.0.1", resolve));
  server = await startClickHouseServer({
    env: {
      LOG_LEVEL: "debug",
      CLICKHOUSE_USER: "default",
      CLICKHOUSE_PASSWORD: ADMIN_PASSWORD,
      CLICKHOUSE_AGENT_USER: "agent",
      CLICKHOUSE_AGENT_PASSWORD: AGENT_PASSWORD,
    },
    onLine: (line) => logLines.push(line),
  });
  const bootstrap = createClient({ url: server.url, password: ADMIN_PASSWORD });
  await bootstrap.command({ query: "CREATE DATABASE secure" });
  await bootstrap.close();
  admin = newClient("default", ADMIN_PASSWORD);
  agent = newClient("agent", AGENT_PASSWORD);
  await admin.command({ query: "CREATE TABLE t (id UInt64, s String) ENGINE = MergeTree ORDER BY id" });
  await admin.insert({ table: "t", format: "JSONEachRow", values: [{ id: 1, s: "a" }] });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.stop();
  await new Promise<void>((resolve) => canary?.close(() => resolve()));
});

describe("authentication", () => {
  it("accepts the configured users (X-ClickHouse-User/Key headers)", async () => {
    const result = await agent.query({ query: "SELECT currentDatabase() AS db", format: "JSONEachRow" });
    expect(await result.json()).toEqual([{ db: "secure" }]);
  });

  it("accepts HTTP Basic auth", async () => {
    const response = await fetch(`${server.url}/?query=SELECT%201`, {
      headers: { Authorization: `Basic ${Buffer.from(`agent:${AGENT_PASSWORD}`).toString("base64")}` },
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("1\n");
  });

  it("refuses a wrong password with 516 AUTHENTICATION_FAILED", async () => {
    const wrong = newClient("default", "not-the-password");
    const error = await errorOf(wrong.query({ query: "SELECT 1" }));
    expect(error.code).toBe("516");
    expect(error.type).toBe("AUTHENTICATION_FAILED");
    const response = await fetch(`${server.url}/?query=SELECT%201`, {
      headers: { Authorization: `Basic ${Buffer.from("agent:nope").toString("base64")}` },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("516");
    await response.text();
  });

  it("refuses an unknown user and a request without credentials", async () => {
    expect((await errorOf(newClient("mallory", "x").query({ query: "SELECT 1" }))).code).toBe("516");
    const response = await fetch(`${server.url}/?query=SELECT%201`);
    expect(response.status).toBe(403);
    await response.text();
  });

  it("never writes a password into its log", async () => {
    await errorOf(newClient("agent", `${AGENT_PASSWORD}-wrong`).query({ query: "SELECT 1" }));
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join("\n");
    expect(all).not.toContain(ADMIN_PASSWORD);
    expect(all).not.toContain(AGENT_PASSWORD);
  });
});

describe("the agent user is forced to readonly=1", () => {
  it("can read, with the project's pinned settings", async () => {
    const result = await agent.query({
      query: "SELECT count() AS c, toString(getSetting('readonly')) AS ro FROM t",
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([{ c: "1", ro: "1" }]);
  });

  const escapes: Array<[string, string]> = [
    ["INSERT", "INSERT INTO t VALUES (2, 'x')"],
    ["INSERT ... SELECT", "INSERT INTO t SELECT number, 'x' FROM numbers(5)"],
    ["DROP", "DROP TABLE t"],
    ["TRUNCATE", "TRUNCATE TABLE t"],
    ["CREATE", "CREATE TABLE t2 (a UInt8) ENGINE = Memory"],
    ["ALTER DELETE", "ALTER TABLE t DELETE WHERE 1"],
    ["SET readonly=0", "SET readonly = 0"],
    ["SET readonly=2", "SET readonly = 2"],
    ["SETTINGS readonly=0 in the query", "SELECT count() FROM t SETTINGS readonly = 0"],
    ["file('/etc/passwd')", "SELECT * FROM file('/etc/passwd', 'LineAsString')"],
    ["INSERT INTO FUNCTION file()", "INSERT INTO FUNCTION file('/tmp/agent-escape.csv', 'CSV') SELECT 1"],
    ["SYSTEM", "SYSTEM DROP MARK CACHE"],
  ];
  for (const [name, query] of escapes) {
    it(`refuses ${name}`, async () => {
      const error = await errorOf(agent.command({ query }));
      expect(error.code).toBe("164");
      expect(await count()).toBe("1");
    });
  }

  it("refuses the scalar file() function, which reads any file in chDB even with readonly=1", async () => {
    for (const query of [
      "SELECT file('/etc/hostname')",
      "SELECT `file`('/etc/hostname')",
      "SELECT 1 FROM (SELECT file('/etc/hostname'))",
    ]) {
      expect((await errorOf(agent.query({ query }))).code).toBe("164");
    }
  });

  it("refuses DESCRIBE of file() (schema inference would read the file)", async () => {
    const error = await errorOf(agent.query({ query: "DESCRIBE TABLE file('/etc/passwd', 'CSVWithNames')" }));
    expect(error.code).toBe("164");
    expect(error.message).not.toContain("root");
  });

  it("refuses DESCRIBE of url() without reaching the URL", async () => {
    const port = (canary.address() as AddressInfo).port;
    const error = await errorOf(
      agent.query({ query: `DESCRIBE TABLE url('http://127.0.0.1:${port}/d', 'CSVWithNames')` }),
    );
    expect(error.code).toBe("164");
    expect(canaryHits).toBe(0);
  });

  it("refuses INTO OUTFILE for every user (it would write on the server)", async () => {
    const target = path.join(os.tmpdir(), `click-ai-outfile-${process.pid}-${Date.now()}.csv`);
    for (const user of [agent, admin]) {
      const error = await errorOf(user.query({ query: `SELECT 1 INTO OUTFILE '${target}' FORMAT CSV` }));
      expect(error.code).toBe("269");
    }
    expect(existsSync(target)).toBe(false);
  });

  it("refuses URL settings that name files to write (output_format_schema)", async () => {
    const target = path.join(os.tmpdir(), `click-ai-schema-${process.pid}-${Date.now()}.capnp`);
    const error = await errorOf(
      agent.query({
        query: "SELECT 1 AS a FORMAT CapnProto",
        clickhouse_settings: { output_format_schema: target },
      }),
    );
    expect(error.code).toBe("164");
    expect(existsSync(target)).toBe(false);
  });

  it("refuses url() without reaching the URL", async () => {
    const port = (canary.address() as AddressInfo).port;
    const error = await errorOf(
      agent.query({ query: `SELECT * FROM url('http://127.0.0.1:${port}/x', 'LineAsString')` }),
    );
    expect(error.code).toBe("164");
    expect(canaryHits).toBe(0);
  });

  it("refuses readonly=0 or 2 as a URL setting", async () => {
    for (const readonly of ["0", "2"]) {
      const error = await errorOf(
        agent.query({ query: "SELECT 1", clickhouse_settings: { readonly: readonly as unknown as "0" } }),
      );
      expect(error.code).toBe("164");
    }
    const error = await errorOf(
      agent.command({ query: "DROP TABLE t", clickhouse_settings: { readonly: "0" } }),
    );
    expect(error.code).toBe("164");
    expect(await count()).toBe("1");
  });

  it("refuses a multi-statement that smuggles a write", async () => {
    const error = await errorOf(agent.command({ query: "SELECT 1; DROP TABLE t" }));
    expect(error.code).toBe("62");
    const comment = await errorOf(agent.command({ query: "SELECT 1 /* ; */; DROP TABLE t" }));
    expect(comment.code).toBe("62");
    expect(await count()).toBe("1");
  });

  it("stays readonly inside a session", async () => {
    const session = createClient({
      url: server.url,
      log: { level: ClickHouseLogLevel.OFF },
      username: "agent",
      password: AGENT_PASSWORD,
      database: "secure",
      session_id: `agent-session-${Date.now()}`,
    });
    clients.push(session);
    expect((await errorOf(session.command({ query: "SET readonly = 0" }))).code).toBe("164");
    expect((await errorOf(session.command({ query: "DROP TABLE t" }))).code).toBe("164");
    expect(await count()).toBe("1");
  });

  it("leaves the full user's connections writable (no readonly leaks through the pool)", async () => {
    // Many agent requests first, so readonly connections sit in the pool.
    await Promise.all(
      Array.from({ length: 10 }, () => agent.query({ query: "SELECT 1" }).then((r) => r.text())),
    );
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        admin.insert({ table: "t", format: "JSONEachRow", values: [{ id: 100 + i, s: "ok" }] }),
      ),
    );
    expect(await count()).toBe("6");
    await admin.command({
      query: "ALTER TABLE t DELETE WHERE id >= 100",
      clickhouse_settings: { mutations_sync: "1" },
    });
    expect(await count()).toBe("1");
  });

  it("makes GET requests read-only for every user", async () => {
    const query = encodeURIComponent("INSERT INTO secure.t VALUES (9, 'get')");
    const response = await fetch(`${server.url}/?query=${query}`, {
      headers: { "X-ClickHouse-User": "default", "X-ClickHouse-Key": ADMIN_PASSWORD },
    });
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("164");
    await response.text();
    expect(await count()).toBe("1");
  });
});
