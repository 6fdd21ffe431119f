/**
 * Why an OTLP payload could not be decoded. The message names what failed
 * and where (e.g. `resourceSpans[2].scopeSpans[0].spans[7].traceId: expected
 * 16 bytes, got 3`), so a 400 response or a loader log line is enough to find
 * the offending producer. `path` is the same location as a string and
 * `resourceSpansIndex` the top-level index (of resourceSpans, resourceLogs
 * or resourceMetrics) when the error is inside one.
 */
export class OtlpDecodeError extends Error {
  readonly path: string;
  readonly detail: string;
  readonly resourceSpansIndex: number | undefined;

  constructor(
    detail: string,
    path = "",
    format: "protobuf" | "json" = "protobuf",
    request = "ExportTraceServiceRequest",
  ) {
    super(`invalid OTLP ${format} ${request}: ${path ? `${path}: ` : ""}${detail}`);
    this.name = "OtlpDecodeError";
    this.path = path;
    this.detail = detail;
    const match = /^resource(?:Spans|Logs|Metrics)\[(\d+)\]/.exec(path);
    this.resourceSpansIndex = match ? Number(match[1]) : undefined;
  }
}

/**
 * Internal: thrown deep inside a decoder and re-thrown by every enclosing
 * level with its own path segment prepended, so building the path costs
 * nothing on the success path.
 */
export class PathError extends Error {
  readonly segments: string[];
  readonly detail: string;
  constructor(detail: string, segment?: string) {
    super(detail);
    this.detail = detail;
    this.segments = segment === undefined ? [] : [segment];
  }
}

export function joinPath(segments: readonly string[]): string {
  let out = "";
  for (const segment of segments) {
    if (segment.startsWith("[")) out += segment;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

/** Adds `segment` in front of the path of a PathError; wraps anything else. */
export function withSegment(error: unknown, segment: string): PathError {
  if (error instanceof PathError) {
    error.segments.unshift(segment);
    return error;
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new PathError(detail, segment);
}
