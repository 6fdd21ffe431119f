/**
 * The object key layout of the OpenTelemetry Collector's awss3 exporter with
 * minute partitions: the contract between whatever writes trace objects (our
 * collector, otelcol-contrib in docker mode) and the s3-loader, which lists
 * and orders objects by their minute partition (docs/ARCHITECTURE.md).
 *
 *   [prefix/]year=YYYY/month=MM/day=DD/hour=HH/minute=mm/<file_prefix>traces_<unique>.<ext>[.gz]
 */

/** The s3_partition_format (strftime, UTC) the collector writes by default and the loader reads. */
export const MINUTE_PARTITION_FORMAT = "year=%Y/month=%m/day=%d/hour=%H/minute=%M";

const MINUTE_PARTITION = /(^|\/)year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/hour=(\d{2})\/minute=(\d{2})\//;

/** The minute partition (UTC ms) a collector-layout key belongs to, if it has one. */
export function keyMinute(key: string): number | undefined {
  const m = MINUTE_PARTITION.exec(key);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[2]), Number(m[3]) - 1, Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/** `[prefix/]year=YYYY/month=MM/day=DD/hour=HH/minute=MM/` of a minute (UTC ms). */
export function minutePartitionPrefix(prefix: string, minuteMs: number): string {
  const d = new Date(minuteMs);
  const path = `year=${pad(d.getUTCFullYear(), 4)}/month=${pad(d.getUTCMonth() + 1)}/day=${pad(
    d.getUTCDate(),
  )}/hour=${pad(d.getUTCHours())}/minute=${pad(d.getUTCMinutes())}/`;
  return prefix ? `${prefix}/${path}` : path;
}
