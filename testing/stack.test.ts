import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { applySchema } from "../shared/clickhouse-ddl.ts";
import { createS3Client } from "../shared/s3.ts";
import { startTestStack, type TestStack } from "./stack.ts";

describe("test stack: embedded ClickHouse + S3 with the schema", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ clickhouse: true, s3: true });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("has every schema table, and applying the schema again changes nothing", async () => {
    const client = createClickHouseClient(stack.clickhouse);
    const tables = async () =>
      (
        await (
          await client.query({
            query: "SELECT name FROM system.tables WHERE database = {db:String} ORDER BY name",
            query_params: { db: stack.clickhouse.database },
            format: "JSONEachRow",
          })
        ).json<{ name: string }>()
      ).map((row) => row.name);
    const before = await tables();
    expect(before).toEqual(
      expect.arrayContaining(["otel_traces", "otel_traces_trace_id_ts", "otel_traces_trace_id_ts_mv"]),
    );
    await applySchema(client, { database: stack.clickhouse.database, ttlDays: 3650 });
    expect(await tables()).toEqual(before);
    await client.close();
  });

  it("lists more than 1,000 keys through the shared S3 client (pagination)", async () => {
    const s3 = createS3Client(stack.s3);
    const keys = Array.from({ length: 1005 }, (_, i) => `page/${String(i).padStart(5, "0")}.json`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((Key) => s3.send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key, Body: "{}" }))),
      );
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: stack.s3.bucket, Prefix: "page/", ContinuationToken: token }),
      );
      pages += 1;
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    expect(pages).toBe(2);
    expect(seen).toEqual(keys);
    s3.destroy();
  });
});
