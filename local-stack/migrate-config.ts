import { type Env, readInt } from "../shared/config/env.ts";

export interface SchemaConfig {
  /** Days otel_traces rows are kept (TTL). */
  ttlDays: number;
}

export function readSchemaConfig(env: Env = process.env): SchemaConfig {
  return { ttlDays: readInt(env, "OTEL_TRACES_TTL_DAYS", 30, { min: 1, max: 3650 }) };
}
