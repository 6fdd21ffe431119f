/**
 * Runs the counting OTLP sink as its own process (used by the benchmark so
 * the receiver does not share the generator's CPU). Prints
 * {"endpoint": "..."} on stdout once listening; GET /stats returns the counts.
 */
import { startOtlpSink } from "./otlp-sink.ts";

const sink = await startOtlpSink({ stats: true });
process.stdout.write(`${JSON.stringify({ endpoint: sink.endpoint })}\n`);
process.on("SIGTERM", () => {
  void sink.close().then(() => process.exit(0));
});
