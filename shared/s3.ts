import { S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "./config/s3.ts";

/**
 * The one factory for S3 clients. Path-style addressing works with MinIO and
 * the embedded s3rver; checksums only WHEN_REQUIRED because the SDK's default
 * flexible checksums make a streamed PutObject store aws-chunked framing on
 * s3rver (a corrupt object) — see docs/ARCHITECTURE.md, "Facts".
 */
export function createS3Client(config: S3Config): S3Client {
  // Node 20 is supported by the SDK versions we pin; its notice about future
  // versions would otherwise be printed by every command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
  });
}

/** Joins the configured prefix and a relative key. */
export function prefixedKey(prefix: string, key: string): string {
  return prefix ? `${prefix}/${key}` : key;
}
