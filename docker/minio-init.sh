#!/bin/sh
# One-shot: create the trace bucket in MinIO (docker mode). Runs in the
# minio/mc image after MinIO is healthy; safe to run again (--ignore-existing).
set -eu

: "${S3_ACCESS_KEY_ID:?S3_ACCESS_KEY_ID is not set}"
: "${S3_SECRET_ACCESS_KEY:?S3_SECRET_ACCESS_KEY is not set}"
: "${S3_BUCKET:?S3_BUCKET is not set}"
endpoint="${MINIO_INTERNAL_ENDPOINT:-http://minio:9000}"

# MinIO can report healthy a moment before it accepts credentials; retry briefly.
attempt=0
until mc alias set clickai "$endpoint" "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY" >/dev/null; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "minio-init: cannot reach MinIO at $endpoint" >&2
    exit 1
  fi
  sleep 1
done

mc mb --ignore-existing "clickai/$S3_BUCKET"
echo "minio-init: bucket $S3_BUCKET ready at $endpoint"
