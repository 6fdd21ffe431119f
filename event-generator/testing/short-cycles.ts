import { type EventGeneratorConfig, readEventGeneratorConfig } from "../config.ts";

/**
 * A few seconds per drop cycle, for tests: short phases, quicker PRE_DROP
 * sessions so every phase has traffic; OTLP/JSON to `endpoint`.
 */
export function shortCycleConfig(endpoint: string, extra: Record<string, string> = {}): EventGeneratorConfig {
  return readEventGeneratorConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    EVENT_GENERATOR_PRE_DROP_DURATION: "1200ms",
    EVENT_GENERATOR_PRE_DROP_THINK_TIME: "120ms",
    EVENT_GENERATOR_DROP_LIVE_DURATION: "1800ms",
    EVENT_GENERATOR_POST_DROP_DURATION: "800ms",
    EVENT_GENERATOR_POST_DROP_THINK_TIME: "200ms",
    EVENT_GENERATOR_STOCK: "25",
    ...extra,
  });
}
