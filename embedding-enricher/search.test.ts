import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadEmbedder } from "./embedder.ts";
import { lexicalOverlap } from "./eval/search-queries.ts";
import { DEFAULT_MODEL_ID } from "./model/default-model.ts";
import { searchSpans } from "./search.ts";
import { testEnricher, useEnricherTestStack } from "./testing/enricher-suite.ts";
import { insertSpans, makeSpans, type TestSpan } from "./testing/spans.ts";

// The real default model, built once per machine into a shared cache (the build is deterministic).
const MODEL_DIR = process.env.EMBEDDING_MODEL_DIR ?? path.join(os.tmpdir(), "click-ai-model-cache");

const t = useEnricherTestStack(() => loadEmbedder({ model: DEFAULT_MODEL_ID, modelDir: MODEL_DIR }));

function span(service: string, name: string, extra: Partial<TestSpan> = {}): TestSpan {
  const [template] = makeSpans(1, { seed: service.length * 31 + name.length });
  return {
    ...(template as TestSpan),
    TraceId: `${service}${name}`
      .replace(/[^a-z]/g, "")
      .padEnd(32, "0")
      .slice(0, 32),
    ServiceName: service,
    SpanName: name,
    StatusCode: "Ok",
    StatusMessage: "",
    Duration: "4000000",
    SpanAttributes: {},
    "Events.Name": [],
    "Events.Timestamp": [],
    "Events.Attributes": [],
    ...extra,
  };
}

beforeAll(async () => {
  const old = new Date(Date.now() - 3 * 86_400_000).toISOString().replace("T", " ").replace("Z", "");
  await insertSpans(t.client, t.db, [
    span("checkout-api", "POST /checkout", {
      StatusCode: "Error",
      StatusMessage: "payment provider timeout",
      Duration: "5200000000",
    }),
    span("auth-service", "POST /login", {
      StatusCode: "Error",
      StatusMessage: "invalid credentials",
      SpanAttributes: { "http.response.status_code": "401" },
    }),
    span("inventory-service", "GET /stock"),
    span("cart-service", "redis GET", {
      SpanKind: "Client",
      StatusCode: "Error",
      StatusMessage: "connection refused",
    }),
    span("email-worker", "send confirmation email", { SpanKind: "Consumer" }),
    span("search-service", "GET /products"),
    span("image-service", "resize thumbnail", { SpanKind: "Internal" }),
    span("image-service", "resize thumbnail", {
      SpanKind: "Internal",
      SpanId: "00000000000000aa",
      Timestamp: old,
    }),
    span("order-service", "INSERT orders", {
      SpanKind: "Client",
      SpanAttributes: { "t.db.system": "postgresql" },
    }),
  ]);
  const enricher = testEnricher(t, { batchSize: 100, cacheEntries: 100 });
  await enricher.start();
  await enricher.runOnce();
}, 300_000);

describe("searchSpans with the default (offline, distilled) model", () => {
  it("finds a span by meaning, with no word in common with its text", async () => {
    const query = "picture shrinking job";
    const [top, ...rest] = await searchSpans(t.client, { query, k: 5, model: t.embedder, database: t.db });
    expect(top?.serviceName).toBe("image-service");
    expect(lexicalOverlap(query, [top?.text ?? ""])).toEqual([]);
    expect(rest.every((m) => m.score <= (top?.score ?? 0))).toBe(true);
  });

  it("applies the service and time-window filters", async () => {
    const query = "picture shrinking job";
    const onlyAuth = await searchSpans(t.client, {
      query,
      k: 5,
      service: "auth-service",
      model: t.embedder,
      database: t.db,
    });
    expect(onlyAuth.length).toBeGreaterThan(0);
    expect(onlyAuth.every((m) => m.serviceName === "auth-service")).toBe(true);

    const all = await searchSpans(t.client, { query, k: 2, model: t.embedder, database: t.db });
    expect(all.filter((m) => m.serviceName === "image-service")).toHaveLength(2);
    const recent = await searchSpans(t.client, {
      query,
      k: 20,
      from: new Date(Date.now() - 86_400_000),
      model: t.embedder,
      database: t.db,
    });
    expect(recent.filter((m) => m.serviceName === "image-service")).toHaveLength(1);
    await expect(searchSpans(t.client, { query: " ", model: t.embedder, database: t.db })).rejects.toThrow(
      /empty/,
    );
  });

  it("returns one span per distinct text when asked", async () => {
    const query = "picture shrinking job";
    const diverse = await searchSpans(t.client, {
      query,
      k: 4,
      maxPerText: 1,
      model: t.embedder,
      database: t.db,
    });
    expect(diverse).toHaveLength(4);
    expect(new Set(diverse.map((m) => m.text)).size).toBe(4);
    const plain = await searchSpans(t.client, { query, k: 4, model: t.embedder, database: t.db });
    expect(new Set(plain.map((m) => m.text)).size).toBeLessThan(4);
  });
});
