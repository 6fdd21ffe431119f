import { ClickHouseError } from "@clickhouse/client";

/** The ClickHouseError a request fails with; any other failure, or success, fails the test. */
export async function errorOf(promise: Promise<unknown>): Promise<ClickHouseError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClickHouseError) return error;
    throw error;
  }
  throw new Error("expected a ClickHouseError, the request succeeded");
}
