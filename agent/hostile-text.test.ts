import { PassThrough } from "node:stream";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";
import { main } from "./commands.ts";
import { dateTime64, insertSeed, type SeedSpan } from "./testing/seed.ts";

/**
 * Telemetry text is data: service names, span names and status messages with
 * ESC/CSI/OSC sequences, BEL, NUL or line breaks reach the terminal escaped,
 * through slash-command tables and the trace waterfall alike.
 */

const TRACE = "0123456789abcdef0123456789abcdef";
const HOSTILE_SERVICE = "evil\x1b]0;pwned\x07svc";
const HOSTILE_NAME = "GET /x\x1b[2J\x1b[H\x00\r\nFAKE: all good";
const HOSTILE_MESSAGE = "boom\x1b[31m red\u202e";

let stack: TestStack;
let admin: ClickHouseClient;

beforeAll(async () => {
  stack = await startTestStack({ clickhouse: true });
  admin = createClickHouseClient(stack.clickhouse);
  const start = Date.now() - 60_000;
  const span: SeedSpan = {
    Timestamp: dateTime64(start),
    TraceId: TRACE,
    SpanId: "0123456789abcdef",
    ParentSpanId: "",
    SpanName: HOSTILE_NAME,
    SpanKind: "Server",
    ServiceName: HOSTILE_SERVICE,
    StatusCode: "Error",
    StatusMessage: HOSTILE_MESSAGE,
    Duration: 5_000_000,
    SpanAttributes: { "note\x1b[1m": "value\x00" },
    "Events.Timestamp": [],
    "Events.Name": [],
    "Events.Attributes": [],
    startMs: start,
  };
  await insertSeed(admin, [span]);
});

afterAll(async () => {
  await admin?.close();
  await stack?.stop();
});

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  stdout.on("data", (d) => {
    out += d;
  });
  stderr.on("data", (d) => {
    out += d;
  });
  stdin.end("");
  const code = await main(args, {
    stdin,
    stdout,
    stderr,
    env: { ...stack.env, ANTHROPIC_API_KEY: "", LOG_LEVEL: "warn" },
  });
  return { code, out };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: asserting that none reach the terminal
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/;

describe("hostile telemetry text", () => {
  for (const command of ["/services", "/errors", "/slow", "/schema"]) {
    it(`${command} prints it escaped, never raw`, async () => {
      const { code, out } = await run([command]);
      expect(code).toBe(0);
      expect(out).not.toMatch(CONTROL);
      expect(out).not.toContain("\nFAKE: all good");
      expect(out).toMatch(/\\x1b/);
    });
  }
});
