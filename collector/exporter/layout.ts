import { randomBytes, randomInt } from "node:crypto";
import type { SignalName } from "../../shared/otlp/signals.ts";
import type { CollectorCompression, CollectorMarshaler, CollectorUniqueKey } from "../config.ts";

/**
 * Object keys exactly as the OpenTelemetry Collector's awss3 exporter builds
 * them (internal/upload/partition.go):
 *
 *   [s3_prefix/]<strftime(s3_partition_format, upload time UTC)>/<file_prefix><signal>_<unique>.<ext>[.gz]
 *
 * with signal `traces`, `logs` or `metrics`,
 * with ext `json` for otlp_json and `binpb` for otlp_proto, and `.gz` when the
 * body is gzip-compressed. The unique part is a random 9-digit number, or a
 * UUIDv7 when `unique_key_func_name: uuidv7`.
 */

export interface KeyLayout {
  /** s3_prefix, without slashes at either end ("" for none). */
  prefix: string;
  partitionFormat: string;
  filePrefix: string;
  marshaler: CollectorMarshaler;
  compression: CollectorCompression;
  /** The signal of the objects (default traces). */
  signal?: SignalName;
}

export const FILE_EXTENSIONS: Record<CollectorMarshaler, string> = { otlp_json: "json", otlp_proto: "binpb" };

const pad2 = (value: number): string => (value < 10 ? `0${value}` : String(value));

/** strftime for the directives the partition format uses, in UTC. */
export function formatPartition(format: string, time: Date): string {
  return format.replace(/%([YmdHMS%])/g, (_match, directive: string) => {
    switch (directive) {
      case "Y":
        return String(time.getUTCFullYear());
      case "m":
        return pad2(time.getUTCMonth() + 1);
      case "d":
        return pad2(time.getUTCDate());
      case "H":
        return pad2(time.getUTCHours());
      case "M":
        return pad2(time.getUTCMinutes());
      case "S":
        return pad2(time.getUTCSeconds());
      default:
        return "%";
    }
  });
}

export function objectKey(layout: KeyLayout, uploadTimeMs: number, unique: string): string {
  const partition = formatPartition(layout.partitionFormat, new Date(uploadTimeMs));
  const directory = layout.prefix ? `${layout.prefix}/${partition}` : partition;
  const suffix = `.${FILE_EXTENSIONS[layout.marshaler]}${layout.compression === "gzip" ? ".gz" : ""}`;
  return `${directory}/${layout.filePrefix}${layout.signal ?? "traces"}_${unique}${suffix}`;
}

/** A random 9-digit number (100000000-999999999). */
export function randomNineDigits(): string {
  return String(randomInt(100_000_000, 1_000_000_000));
}

/** RFC 9562 UUID version 7: 48-bit Unix milliseconds, then random bits. */
export function uuidv7(nowMs: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function newUniqueKey(kind: CollectorUniqueKey, nowMs: number = Date.now()): string {
  return kind === "uuidv7" ? uuidv7(nowMs) : randomNineDigits();
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Matches every key `objectKey` can produce for this layout (any time, any unique part). */
export function objectKeyPattern(layout: KeyLayout): RegExp {
  const partition = escapeRegExp(layout.partitionFormat).replace(/%([YmdHMS])/g, (_m, directive: string) =>
    directive === "Y" ? "\\d{4}" : "\\d{2}",
  );
  const prefix = layout.prefix ? `${escapeRegExp(layout.prefix)}/` : "";
  const suffix = `\\.${FILE_EXTENSIONS[layout.marshaler]}${layout.compression === "gzip" ? "\\.gz" : ""}`;
  return new RegExp(
    `^${prefix}${partition}/${escapeRegExp(layout.filePrefix)}${layout.signal ?? "traces"}_(\\d{9}|[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})${suffix}$`,
  );
}
