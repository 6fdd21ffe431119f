/**
 * The loader's two kinds of failure, and the one rule that sorts every error
 * into them (docs/ARCHITECTURE.md, "no object can hold the pipeline"):
 *
 * - TransientError: S3 or ClickHouse did not answer as expected (unreachable,
 *   socket reset, timeout, server busy). Nobody's fault: retry with backoff.
 *   Only the I/O wrappers create it, from errors they recognise.
 * - everything else, ObjectError included, is the object's fault: its bytes
 *   cannot become rows, or ClickHouse refused its rows, or something nobody
 *   foresaw happened while handling it. Such an object is retried alone a
 *   bounded number of times, then quarantined with the error text, so an
 *   unknown error can cost one object, never the pipeline.
 */

/** An object whose bytes cannot become rows or whose rows ClickHouse refuses. */
export class ObjectError extends Error {}

/** S3 or ClickHouse did not answer as expected: retry later, never blame the object. */
export class TransientError extends Error {}

/** The one rule: only a recognised infrastructure failure is not the object's fault. */
export function blamesObject(error: unknown): boolean {
  return !(error instanceof TransientError);
}

/** First line of an error's message, bounded (what the ledger and the logs keep). */
export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.slice(0, 500);
}

/**
 * ClickHouse exception codes that describe the server, not the rows sent:
 * retried without blame. Any other code on an insert means the rows were refused.
 */
export const CLICKHOUSE_INFRA_CODES = new Set([
  3, // UNEXPECTED_END_OF_FILE (connection cut mid-request)
  60, // UNKNOWN_TABLE (schema not migrated yet)
  81, // UNKNOWN_DATABASE
  159, // TIMEOUT_EXCEEDED
  164, // READONLY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED
  242, // TABLE_IS_READ_ONLY
  243, // NOT_ENOUGH_SPACE
  252, // TOO_MANY_PARTS (merges behind; "too many partitions" is handled before this rule)
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  473, // DEADLOCK_AVOIDED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

/** True when ClickHouse refused an insert because its block touches too many partitions. */
export function isTooManyPartitions(error: unknown): boolean {
  return /too many partitions for (a )?single insert block/i.test(errorText(error));
}
