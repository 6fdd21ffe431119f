import { Command } from "commander";
import { flagsOverEnv, runCli } from "../shared/cli.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { applySchema } from "../shared/clickhouse-ddl.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { createLogger } from "../shared/logger.ts";
import { readSchemaConfig } from "./migrate-config.ts";

const program = new Command("migrate")
  .description(
    "Apply clickhouse-ddl/*.sql (database, otel_traces, lookup table + MV, enriched table, pipeline state) " +
      "to the ClickHouse at CLICKHOUSE_URL. Idempotent: safe to run on every start, embedded or real server.",
  )
  .option("--database <name>", "target database (default CLICKHOUSE_DATABASE, otel)")
  .action(async (flags: { database?: string }) => {
    const config = flagsOverEnv([
      { variable: "CLICKHOUSE_DATABASE", flag: "--database", value: flags.database },
    ]).read(readClickHouseConfig);
    const { ttlDays } = readSchemaConfig();
    const log = createLogger("migrate");
    // The database may not exist yet, so connect to `default` for the DDL (it names the database explicitly).
    const client = createClickHouseClient(config, { database: "default" });
    try {
      const count = await applySchema(client, { database: config.database, ttlDays }, (statement) =>
        log.debug({ file: statement.file }, "applying"),
      );
      log.info({ url: config.url, database: config.database, statements: count }, "schema applied");
    } finally {
      await client.close();
    }
  });

await runCli("migrate", async () => {
  await program.parseAsync();
});
