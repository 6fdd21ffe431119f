import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgentClickHouseClient } from "../../agent/clickhouse.ts";
import { dispatchTool } from "../../agent/dispatch.ts";
import { traceIdOf } from "../../agent/testing/seed.ts";
import { ALL_TOOLS } from "../../agent/tools/index.ts";
import { rankRootCauses } from "../../analyzer/rca/rank.ts";
import { formatCount, formatDuration } from "../web/format.ts";
import { launchChromium } from "./browser.ts";
import { type SeededConsole, startSeededConsole, XSS_SPAN_NAME, XSS_TRACE_ID } from "./seeded-console.ts";

const SCREENSHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "screenshots");

let seeded: SeededConsole;
let browser: { context: BrowserContext; close(): Promise<void> };
let agentClient: ClickHouseClient;
let range: string;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  seeded = await startSeededConsole();
  browser = await launchChromium();
  agentClient = createAgentClickHouseClient(
    seeded.stack.clickhouse,
    { username: "agent", password: "agent" },
    { queryTimeoutMs: 10_000, sqlRowCap: 10_000 },
  );
  range = `from=${seeded.startMs - 60_000}&to=${seeded.endMs + 60_000}`;
});

afterAll(async () => {
  await browser?.close();
  await agentClient?.close();
  await seeded?.stop();
});

/** Opens a page and records every console error and uncaught exception on it. */
async function open(pathAndQuery: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(`${seeded.url}${pathAndQuery}`);
  return { page, errors };
}

async function sql<T>(query: string): Promise<T[]> {
  const result = await seeded.admin.query({
    query,
    format: "JSONEachRow",
    query_params: { from: seeded.startMs - 60_000, to: seeded.endMs + 60_000 },
  });
  return result.json<T>();
}

const IN_RANGE =
  "Timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND Timestamp < fromUnixTimestamp64Milli({to:Int64})";

async function cell(page: Page, table: string, key: string, col: string): Promise<string> {
  return (
    await page.locator(`[data-testid="${table}"] tr[data-key="${key}"] td[data-col="${col}"]`).innerText()
  ).trim();
}

describe("the console in Chromium on seeded spans", () => {
  it("Services: every figure in the table equals SQL on the same spans", async () => {
    const { page, errors } = await open(`/services?${range}`);
    await page.locator('[data-testid="services-table"] tbody tr').first().waitFor();
    await page.locator(".chart canvas").first().waitFor();
    // The seed's requests carry drop.phase: PRE_DROP for the first 20 traces, DROP_LIVE after.
    await expect
      .poll(() => page.locator(".services-page .hint").textContent())
      .toContain("PRE_DROP, DROP_LIVE");
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SCREENSHOTS, "services.png"), fullPage: true });
    const rows = await sql<{
      service: string;
      spans: string;
      errors: string;
      p50: string;
      p95: string;
      p99: string;
    }>(
      `SELECT ServiceName AS service, count() AS spans, countIf(StatusCode = 'Error') AS errors,
         quantilesBFloat16(0.5, 0.95, 0.99)(Duration) AS q, q[1] AS p50, q[2] AS p95, q[3] AS p99
       FROM otel_traces WHERE SpanKind = 'Server' AND ${IN_RANGE} GROUP BY ServiceName`,
    );
    expect(rows.length).toBe(4);
    expect(await page.locator('[data-testid="services-table"] tbody tr').count()).toBe(rows.length);
    for (const row of rows) {
      expect(await cell(page, "services-table", row.service, "spans")).toBe(formatCount(Number(row.spans)));
      expect(await cell(page, "services-table", row.service, "errors")).toBe(formatCount(Number(row.errors)));
      for (const q of ["p50", "p95", "p99"] as const) {
        expect(await cell(page, "services-table", row.service, q)).toBe(formatDuration(Number(row[q]) / 1e6));
      }
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it("Service map: every call edge and its counts equal SQL over parent -> child spans", async () => {
    const { page, errors } = await open(`/map?${range}`);
    await page.locator('[data-testid="edges-table"] tbody tr').first().waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "service-map.png"), fullPage: true });
    const edges = await sql<{ parent: string; child: string; calls: string; errors: string }>(
      `SELECT p.ServiceName AS parent, c.ServiceName AS child, count() AS calls, countIf(c.StatusCode = 'Error') AS errors
       FROM otel_traces AS c INNER JOIN otel_traces AS p ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
       WHERE p.ServiceName != c.ServiceName AND c.Timestamp >= fromUnixTimestamp64Milli({from:Int64})
         AND c.Timestamp < fromUnixTimestamp64Milli({to:Int64})
       GROUP BY parent, child`,
    );
    expect(edges.length).toBe(3);
    expect(await page.locator('[data-testid="edges-table"] tbody tr').count()).toBe(edges.length);
    for (const e of edges) {
      const key = `${e.parent}->${e.child}`;
      expect(await cell(page, "edges-table", key, "calls")).toBe(formatCount(Number(e.calls)));
      expect(await cell(page, "edges-table", key, "errors")).toBe(formatCount(Number(e.errors)));
      expect(await page.locator(`g.edge[data-edge="${key}"]`).count()).toBe(1);
    }
    expect(await page.locator("g.node").count()).toBe(4);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a click from a service to a trace opens its waterfall, whose critical path and failing span are the agent tool's", async () => {
    const { page, errors } = await open(`/services?${range}`);
    await page.locator('[data-testid="services-table"] tr[data-key="payment"]').click();
    await page.waitForURL(/\/traces\?.*service=payment/);
    await page.locator('select[name="status"]').selectOption("Error");
    await page.locator("form.filters button[type=submit]").click();
    await page.waitForURL(/status=Error/);
    // The seed fails payment in 5 traces; the list shows them once the filtered read is in.
    await expect.poll(() => page.locator('[data-testid="trace-results"] tbody tr').count()).toBe(5);
    const first = page.locator('[data-testid="trace-results"] tbody tr').first();
    const traceId = (await first.getAttribute("data-trace-id"))!;
    await first.click();
    await page.locator('[data-testid="waterfall"] .wf-row').first().waitFor();
    await page.waitForURL(new RegExp(`trace=${traceId}`));
    const rows = page.locator('[data-testid="waterfall"] .wf-row');
    expect(await rows.count()).toBe(seeded.spans.filter((s) => s.TraceId === traceId).length);
    const marked = async (attr: string) =>
      (
        await page
          .locator(`[data-testid="waterfall"] .wf-row[${attr}="true"]`)
          .evaluateAll((els) => els.map((el) => el.getAttribute("data-span-id")))
      ).sort();
    const tool = await dispatchTool(
      ALL_TOOLS,
      { id: "t", name: "trace_tree", input: { trace_id: traceId } },
      {
        clickhouse: agentClient,
        limits: { maxRows: 100, maxChars: 20_000 },
        sqlRowCap: 1000,
        now: () => new Date(),
      },
    );
    expect(tool.isError).toBe(false);
    const lines = tool.content.split("\n").filter((l) => /\(([0-9a-f]{16})\)/.test(l));
    const idOf = (l: string) => /\(([0-9a-f]{16})\)/.exec(l)![1]!;
    const toolCritical = lines
      .filter((l) => l[0] === "*")
      .map(idOf)
      .sort();
    const toolFailing = lines
      .filter((l) => l[1] === "!")
      .map(idOf)
      .sort();
    expect(toolCritical.length).toBeGreaterThan(1);
    expect(await marked("data-critical")).toEqual(toolCritical);
    expect(await marked("data-failing")).toEqual(toolFailing);
    await page.locator('[data-testid="waterfall"] .wf-row[data-failing="true"]').click();
    await page.locator('[data-testid="span-details"]').waitFor();
    expect(await page.locator('[data-testid="span-details"]').innerText()).toContain("card declined");
    await page.screenshot({ path: path.join(SCREENSHOTS, "traces.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("renders a span named with <script> as text, and runs none of it", async () => {
    const { page, errors } = await open(`/traces?${range}&trace=${XSS_TRACE_ID}&span=00000000000000aa`);
    await page.locator('[data-testid="span-details"]').waitFor();
    const row = page.locator('[data-testid="waterfall"] .wf-row .op').first();
    expect(await row.innerText()).toBe(XSS_SPAN_NAME);
    expect(await page.locator('[data-testid="span-details"]').innerText()).toContain(
      "<b>bold</b><script>window.__xss = 3</script>",
    );
    expect(await page.locator('[data-testid="span-details"]').innerText()).toContain(
      '<img src=x onerror="window.__xss = 4">',
    );
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator("#app script, #app img, #app b").count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "traces-markup-span.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("Logs: pattern counts add up to the records SQL counts, and a record links to its trace", async () => {
    const { page, errors } = await open(`/logs?${range}`);
    await page.locator('[data-testid="log-patterns"] tbody tr').first().waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "logs.png"), fullPage: true });
    const [total] = await sql<{ n: string; errors: string }>(
      `SELECT count() AS n, countIf(SeverityText = 'ERROR') AS errors FROM otel_logs WHERE ${IN_RANGE}`,
    );
    const counts = await page
      .locator('[data-testid="log-patterns"] td[data-col="count"]')
      .evaluateAll((els) => els.map((el) => Number((el.textContent ?? "").replace(/,/g, ""))));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(Number(total!.n));
    // Bodies that differ only in numbers are one pattern: charge, decline, and the markup warning.
    expect(counts.length).toBe(3);
    expect(await page.locator(".logs-page .toolbar").textContent()).toContain(`${total!.n} records match`);
    await page.locator('select[name="severity"]').selectOption("ERROR");
    await page.locator("form.filters button[type=submit]").click();
    await page.waitForURL(/severity=ERROR/);
    await expect
      .poll(() => page.locator('[data-testid="log-patterns"] td[data-col="count"]').first().textContent())
      .toBe(total!.errors);
    await page.locator('[data-testid="log-patterns"] tbody tr').first().click();
    await page.locator('[data-testid="log-records"] tbody tr').first().waitFor();
    expect(await page.locator('[data-testid="log-records"] tbody tr').count()).toBe(Number(total!.errors));
    await page.locator('[data-testid="log-records"] tbody tr a').first().click();
    await page.locator('[data-testid="span-details"]').waitFor();
    expect(await page.locator('[data-testid="span-details"]').textContent()).toContain(
      "card declined for order",
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it("Ask: without an API key the slash tools answer in the panel, each tool call shown", async () => {
    const { page, errors } = await open("/ask");
    const input = page.locator('input[aria-label="question"]');
    await input.fill("/errors payment");
    await input.press("Enter");
    await page.locator('[data-testid="tool-call"]').first().waitFor();
    expect(await page.locator('[data-testid="tool-call"] .tool-name').first().innerText()).toBe(
      "find_errors",
    );
    await page.locator('[data-testid="answer"] pre.text').first().waitFor();
    expect(await page.locator('[data-testid="answer"] pre.text').first().innerText()).toContain(
      "card declined",
    );
    await input.fill("which service fails most?");
    await input.press("Enter");
    await page.locator('[data-testid="answer"] .banner.error').first().waitFor();
    expect(await page.locator('[data-testid="answer"] .banner.error').first().innerText()).toContain(
      "ANTHROPIC_API_KEY",
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, "ask.png"), fullPage: false });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("Incidents: incidents and anomalies equal SQL; the fault's incident ranks the faulty service first, its example trace opens", async () => {
    const incident = seeded.incident;
    const window = { from: incident.fromMs, to: incident.toMs + 15 * 60_000 };
    const { page, errors } = await open(`/incidents?from=${window.from}&to=${window.to}`);
    await page.locator('[data-testid="incidents-table"] tbody tr').first().waitFor();
    const incidents = await (
      await seeded.admin.query({
        query: `SELECT toUnixTimestamp(Start) * 1000 AS start, Anomalies AS anomalies FROM incidents
          WHERE Start < fromUnixTimestamp64Milli({to:Int64}) AND End > fromUnixTimestamp64Milli({from:Int64})
          ORDER BY Start DESC`,
        query_params: window,
        format: "JSONEachRow",
      })
    ).json<{ start: string; anomalies: string }>();
    const keys = await page
      .locator('[data-testid="incidents-table"] tbody tr')
      .evaluateAll((els) => els.map((el) => el.getAttribute("data-key")));
    expect(keys).toEqual(incidents.map((i) => i.start));
    for (const i of incidents)
      expect(await cell(page, "incidents-table", i.start, "anomalies")).toBe(
        formatCount(Number(i.anomalies)),
      );
    const [anomalies] = await (
      await seeded.admin.query({
        query: `SELECT count() AS n FROM anomalies FINAL
          WHERE Time >= fromUnixTimestamp64Milli({from:Int64}) AND Time < fromUnixTimestamp64Milli({to:Int64})`,
        query_params: window,
        format: "JSONEachRow",
      })
    ).json<{ n: string }>();
    expect(await page.locator('[data-testid="anomaly-count"]').innerText()).toContain(
      `${formatCount(Number(anomalies!.n))} in the range`,
    );
    // The incident the fault started: the analyzer saw it in its first minute.
    const fault = incidents.find(
      (i) => Number(i.start) <= incident.faultFromMs && Number(i.start) > incident.faultFromMs - 10 * 60_000,
    )!;
    expect(fault).toBeDefined();
    await page.locator(`[data-testid="incidents-table"] tr[data-key="${fault.start}"]`).click();
    await page.waitForURL(new RegExp(`incident=${fault.start}`));
    const ranking = page.locator('[data-testid="root-cause"] .ranking > li');
    await ranking.first().waitFor();
    expect(await ranking.first().getAttribute("data-service")).toBe(incident.service);
    // The ranking the analyzer stored for the incident, the same one the agent's root_cause tool computes.
    expect(await page.locator('[data-testid="root-cause"] h3').innerText()).toContain(
      "ranked by the analyzer at",
    );
    const report = await rankRootCauses(agentClient, { at: new Date(Number(fault.start)) });
    expect(await ranking.evaluateAll((els) => els.map((el) => el.getAttribute("data-service")))).toEqual(
      report.ranked.filter((r) => r.score > 0).map((r) => r.service),
    );
    expect(await ranking.first().innerText()).toMatch(/errors|latency/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "incidents.png"), fullPage: true });
    const example = ranking.first().locator("a.example").first();
    const traceId = (await example.getAttribute("data-trace"))!;
    await example.click();
    await page.waitForURL(new RegExp(`/traces\\?.*trace=${traceId}`));
    await page.locator('[data-testid="waterfall"] .wf-row').first().waitFor();
    expect(await page.locator(".trace-title").innerText()).toContain(traceId);
    expect(await page.locator('select[name="service"]').inputValue()).toBe(incident.service);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("Service map: services with anomalies in the range are marked, with their count and why", async () => {
    const incident = seeded.incident;
    const window = { from: incident.fromMs, to: incident.toMs };
    const { page, errors } = await open(`/map?from=${window.from}&to=${window.to}`);
    await page.locator("g.node").first().waitFor();
    const rows = await (
      await seeded.admin.query({
        query: `SELECT ServiceName AS service, count() AS n, argMax(Kind, Score) AS top FROM anomalies FINAL
          WHERE Time >= fromUnixTimestamp64Milli({from:Int64}) AND Time < fromUnixTimestamp64Milli({to:Int64})
          GROUP BY ServiceName ORDER BY ServiceName`,
        query_params: window,
        format: "JSONEachRow",
      })
    ).json<{ service: string; n: string; top: string }>();
    expect(rows.map((r) => r.service)).toContain(incident.service);
    const marked = await page
      .locator("g.node.anomalous")
      .evaluateAll((els) =>
        els.map((el) => [el.getAttribute("data-node"), el.getAttribute("data-anomalies")]),
      );
    expect(marked.sort()).toEqual(rows.map((r) => [r.service, r.n]));
    for (const r of rows) {
      const title = await page.locator(`g.node[data-node="${r.service}"] > title`).textContent();
      expect(title).toContain(`${r.n} anomalies`);
      expect(title).toContain(r.top);
      expect(await cell(page, "anomalous-services", r.service, "count")).toBe(formatCount(Number(r.n)));
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, "service-map-anomalies.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("keeps the view in the URL: a copied link reopens the same trace", async () => {
    const traceId = traceIdOf(8);
    const { page, errors } = await open(`/traces?${range}&service=payment&trace=${traceId}`);
    await page.locator('[data-testid="waterfall"] .wf-row').first().waitFor();
    expect(await page.locator('select[name="service"]').inputValue()).toBe("payment");
    expect(await page.locator(".trace-title").innerText()).toContain(traceId);
    expect(errors).toEqual([]);
    await page.close();
  });
});
