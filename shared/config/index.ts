/**
 * The one typed configuration module of click-ai. Every stage reads its
 * settings from environment variables through these readers; each has a
 * default that points at the local stack (`just up`), so nothing needs to be
 * set on a laptop, and the same variables point a stage at a real
 * ClickHouse / S3 in production. Stage-specific sections live beside this
 * file (one file per section) and are re-exported here.
 */

export * from "./agent.ts";
export * from "./clickhouse.ts";
export * from "./clickhouse-server.ts";
export * from "./collector.ts";
export * from "./embedding-enricher.ts";
export * from "./env.ts";
export * from "./event-generator.ts";
export * from "./paths.ts";
export * from "./s3.ts";
export * from "./s3-loader.ts";
export * from "./s3-server.ts";
export * from "./schema.ts";
export * from "./supervisor.ts";
