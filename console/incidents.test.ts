import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankRootCauses } from "../analyzer/rca/rank.ts";
import { type SeededConsole, startSeededConsole } from "./testing/seeded-console.ts";

/**
 * The root-cause API against a real embedded stack: 45 minutes of traffic in
 * which `payment` fails, analysed by one analyzer pass (which ranks the
 * settled incidents and stores the rankings), and the console reading it as
 * the read-only agent user.
 */
let seeded: SeededConsole;

beforeAll(async () => {
  seeded = await startSeededConsole();
}, 300_000);

afterAll(async () => {
  await seeded?.stop();
});

interface RootCauseView {
  atMs: number;
  windowMs: number;
  rankedAtMs?: number;
  ranked: Array<{ service: string; score: number; examples: { errors: unknown[]; slowest: unknown[] } }>;
}

async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${seeded.url}${path}`);
  const body = await response.text();
  expect(response.status, body).toBe(200);
  return JSON.parse(body) as T;
}

/** The fault's incident as the Incidents page lists it. */
async function faultIncident(): Promise<{ startMs: number }> {
  const { incident } = seeded;
  const { incidents } = await get<{ incidents: Array<{ startMs: number }> }>(
    `/api/incidents?from=${incident.fromMs}&to=${incident.toMs + 15 * 60_000}`,
  );
  const fault = incidents.find(
    (i) => i.startMs <= incident.faultFromMs && i.startMs > incident.faultFromMs - 10 * 60_000,
  );
  expect(fault, "the fault's incident is listed").toBeDefined();
  return fault!;
}

async function storedRows(startMs: number) {
  const result = await seeded.admin.query({
    query: `SELECT Report AS report, toString(toUnixTimestamp64Milli(RankedAt)) AS ranked_at, TopService AS top
      FROM incident_rankings WHERE Start = fromUnixTimestamp64Milli({at:Int64}, 'UTC')`,
    query_params: { at: startMs },
    format: "JSONEachRow",
  });
  return result.json<{ report: string; ranked_at: string; top: string }>();
}

const servicesOf = (ranked: Array<{ service: string; score: number }>) =>
  ranked.filter((r) => r.score > 0).map((r) => r.service);

describe("/api/root-cause", () => {
  it("a listed incident's ranking is the one the analyzer stored, with example traces", async () => {
    const fault = await faultIncident();
    const rows = await storedRows(fault.startMs);
    expect(rows).toHaveLength(1);
    const stored = JSON.parse(rows[0]!.report) as { ranked: Array<{ service: string; score: number }> };
    expect(rows[0]!.top).toBe(seeded.incident.service);
    const view = await get<RootCauseView>(`/api/root-cause?at=${fault.startMs}`);
    expect(view.rankedAtMs).toBe(Number(rows[0]!.ranked_at));
    expect(view.ranked.map((r) => [r.service, r.score])).toEqual(
      stored.ranked.filter((r) => r.score > 0).map((r) => [r.service, r.score]),
    );
    expect(view.ranked[0]!.service).toBe(seeded.incident.service);
    expect(view.ranked[0]!.examples.errors.length).toBeGreaterThan(0);
    // What the analyzer stored is what ranking the same time now gives.
    const now = await rankRootCauses(seeded.admin, { at: new Date(fault.startMs) });
    expect(servicesOf(view.ranked)).toEqual(servicesOf(now.ranked));
  });

  it("a time or window the analyzer did not rank is ranked on request", async () => {
    const fault = await faultIncident();
    const at = fault.startMs + 60_000;
    expect(await storedRows(at)).toEqual([]);
    const view = await get<RootCauseView>(`/api/root-cause?at=${at}`);
    expect(view.rankedAtMs).toBeUndefined();
    expect(view.atMs).toBe(at);
    const direct = await rankRootCauses(seeded.admin, { at: new Date(at) });
    expect(servicesOf(view.ranked)).toEqual(servicesOf(direct.ranked));
    const wider = await get<RootCauseView>(`/api/root-cause?at=${fault.startMs}&window=5`);
    expect(wider.rankedAtMs).toBeUndefined();
    expect(wider.windowMs).toBe(5 * 60_000);
  });

  it("refuses a bad alert time with one line and a 400", async () => {
    const response = await fetch(`${seeded.url}/api/root-cause?at=soon`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: '"at" must be a time in milliseconds' });
  });
});

describe("a page's first data read, started when the page is served", () => {
  it("answers the page's request with what a fresh read gives, and a bad view with its 400", async () => {
    const { fromMs, toMs } = seeded.incident;
    const views = [
      ["/map", `/api/map?from=${fromMs}&to=${toMs}`],
      ["/services", `/api/services?from=${fromMs}&to=${toMs}&kind=Server`],
      ["/logs", `/api/logs?from=${fromMs}&to=${toMs}&severity=ERROR`],
    ];
    for (const [page, api] of views) {
      const query =
        page === "/logs" ? `from=${fromMs}&to=${toMs}&severity=ERROR&refresh=` : `from=${fromMs}&to=${toMs}`;
      const html = await fetch(`${seeded.url}${page}?${query}`);
      expect(html.headers.get("content-type")).toContain("text/html");
      await html.text();
      const early = await get<unknown>(api!);
      expect(early).toEqual(await get<unknown>(api!));
    }
    await (await fetch(`${seeded.url}/services?kind=Bogus`)).text();
    const refused = await fetch(`${seeded.url}/api/services?kind=Bogus`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toMatch(/"kind" must be one of/);
  });
});
