/**
 * Pure trace-tree logic: builds the span tree of one trace, finds the
 * critical path and the failing span, and renders an indented waterfall.
 */
import type { TraceSpan, TreeNode } from "./span-tree.ts";

export type { TraceSpan, TreeNode };

export function buildTree(spans: TraceSpan[]): TreeNode[] {
  const nodes = new Map<string, TreeNode>();
  for (const span of spans) nodes.set(span.spanId, { span, children: [], depth: 0 });
  const roots: TreeNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanId ? nodes.get(node.span.parentSpanId) : undefined;
    // A span whose parent is missing (not exported yet, or another trace) is shown as a root.
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const byStart = (a: TreeNode, b: TreeNode) =>
    a.span.startNs - b.span.startNs || a.span.spanId.localeCompare(b.span.spanId);
  const setDepth = (node: TreeNode, depth: number, seen: Set<TreeNode>) => {
    if (seen.has(node)) return; // parent cycles in bad data must not loop forever
    seen.add(node);
    node.depth = depth;
    node.children.sort(byStart);
    for (const child of node.children) setDepth(child, depth + 1, seen);
  };
  roots.sort(byStart);
  const seen = new Set<TreeNode>();
  for (const root of roots) setDepth(root, 0, seen);
  // Nodes only reachable through a cycle become roots so they are still shown.
  for (const node of nodes.values()) {
    if (!seen.has(node)) {
      node.children = node.children.filter((c) => !seen.has(c));
      roots.push(node);
      setDepth(node, 0, seen);
    }
  }
  return roots;
}

import { type CriticalPath, criticalPath } from "./critical-path.ts";

export { type CriticalPath, criticalPath };
/** Spans on the critical path covering less than this share of it get "." instead of "*". */
export const MINOR_CRITICAL_SHARE = 0.01;

/**
 * The failing span(s): error spans with no failing descendant - where the
 * failure started, as opposed to the ancestors it propagated to.
 */
export function failingSpans(roots: TreeNode[]): Set<string> {
  const result = new Set<string>();
  const visit = (node: TreeNode, seen: Set<TreeNode>): boolean => {
    if (seen.has(node)) return false;
    seen.add(node);
    let descendantFailed = false;
    for (const child of node.children) if (visit(child, seen)) descendantFailed = true;
    const failed = node.span.status === "Error";
    if (failed && !descendantFailed) result.add(node.span.spanId);
    return failed || descendantFailed;
  };
  const seen = new Set<TreeNode>();
  for (const root of roots) visit(root, seen);
  return result;
}

/**
 * The failure origin: among the failing spans, the deepest (the error the
 * others propagated from), then the earliest.
 */
export function failureOrigin(roots: TreeNode[], failing: Set<string>): TreeNode | undefined {
  let origin: TreeNode | undefined;
  const visit = (node: TreeNode, seen: Set<TreeNode>) => {
    if (seen.has(node)) return;
    seen.add(node);
    if (
      failing.has(node.span.spanId) &&
      (!origin ||
        node.depth > origin.depth ||
        (node.depth === origin.depth && node.span.startNs < origin.span.startNs))
    )
      origin = node;
    for (const child of node.children) visit(child, seen);
  };
  const seen = new Set<TreeNode>();
  for (const root of roots) visit(root, seen);
  return origin;
}

function fmtMs(ns: number): string {
  const ms = ns / 1e6;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** A log record of the trace, shown under the span it was written in. */
export interface TraceLog {
  spanId: string;
  timeNs: number;
  severity: string;
  body: string;
}

export interface WaterfallOptions {
  maxSpans: number;
  messageMax?: number;
  /** The trace's log records (any order); each is shown under its span. */
  logs?: TraceLog[];
  /** Log lines shown under one span; the rest are counted. */
  maxLogsPerSpan?: number;
}

/** Groups log records by span id, oldest first. */
function logsBySpan(logs: TraceLog[]): Map<string, TraceLog[]> {
  const bySpan = new Map<string, TraceLog[]>();
  for (const log of logs) {
    const list = bySpan.get(log.spanId) ?? [];
    list.push(log);
    bySpan.set(log.spanId, list);
  }
  for (const list of bySpan.values()) list.sort((a, b) => a.timeNs - b.timeNs);
  return bySpan;
}

export interface Waterfall {
  text: string;
  shownSpans: number;
  totalSpans: number;
}

/** Summary lines: where the critical path spends its time, and where the failure started. */
function summaryLines(
  spans: TraceSpan[],
  roots: TreeNode[],
  path: CriticalPath,
  failing: Set<string>,
): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const selfNs = new Map<string, number>();
  for (const section of path.sections)
    selfNs.set(section.spanId, (selfNs.get(section.spanId) ?? 0) + section.endNs - section.startNs);
  const top = [...selfNs.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
  const lines: string[] = [];
  if (path.lengthNs > 0) {
    const parts = top.map(([id, ns]) => {
      const s = byId.get(id)!;
      return `${s.service}: ${s.name} ${fmtMs(ns)}ms (${((100 * ns) / path.lengthNs).toFixed(0)}%)`;
    });
    lines.push(`Critical path ${fmtMs(path.lengthNs)}ms, most time in: ${parts.join("; ")}.`);
  }
  const origin = failureOrigin(roots, failing);
  if (origin) {
    const s = origin.span;
    const message = s.message ? ` -- ${s.message.replace(/\s+/g, " ").slice(0, 160)}` : "";
    lines.push(`Failure origin: ${s.service}: ${s.name} (${s.spanId})${message}`);
  }
  return lines;
}

function criticalMark(path: CriticalPath, spanId: string): string {
  const covered = path.coverageNs.get(spanId);
  if (covered === undefined) return " ";
  return path.lengthNs > 0 && covered / path.lengthNs < MINOR_CRITICAL_SHARE ? "." : "*";
}

/**
 * One line per span in tree order, each followed by its log records (`| +offset SEVERITY body`):
 *   `* ! +12.0ms  85.3ms  ERROR  payment: POST /charge  -- card declined`
 * where `*` marks the critical path (`.` a span on it for under 1% of it)
 * and `!` a failing span.
 */
export function renderWaterfall(spans: TraceSpan[], options: WaterfallOptions): Waterfall {
  if (spans.length === 0) return { text: "", shownSpans: 0, totalSpans: 0 };
  const roots = buildTree(spans);
  const path = criticalPath(roots);
  const failing = failingSpans(roots);
  const traceStart = Math.min(...spans.map((s) => s.startNs));
  const traceEnd = Math.max(...spans.map((s) => s.startNs + s.durationNs));
  const errorCount = spans.filter((s) => s.status === "Error").length;
  const services = new Set(spans.map((s) => s.service));
  const lines: string[] = [
    `${spans.length} spans, ${services.size} services, ${fmtMs(traceEnd - traceStart)}ms total, ${errorCount} error spans.`,
    ...summaryLines(spans, roots, path, failing),
    "Legend: * critical path (. on it for <1% of its length), ! failing span (error not explained by a failing child); offset from trace start, duration.",
  ];
  const messageMax = options.messageMax ?? 160;
  const logs = logsBySpan(options.logs ?? []);
  const maxLogs = options.maxLogsPerSpan ?? 5;
  const logLine = (indent: string, log: TraceLog) =>
    `${indent}| +${fmtMs(log.timeNs - traceStart)}ms ${log.severity || "-"} ${log.body.replace(/\s+/g, " ").slice(0, messageMax)}`;
  let shown = 0;
  const walk = (node: TreeNode, seen: Set<TreeNode>) => {
    if (seen.has(node)) return;
    seen.add(node);
    if (shown < options.maxSpans) {
      const s = node.span;
      const marks = `${criticalMark(path, s.spanId)}${failing.has(s.spanId) ? "!" : " "}`;
      const status = s.status === "Error" ? "ERROR" : s.status === "Ok" ? "ok" : "-";
      const message =
        s.status === "Error" && s.message
          ? `  -- ${s.message.replace(/\s+/g, " ").slice(0, messageMax)}`
          : "";
      lines.push(
        `${marks} ${"  ".repeat(node.depth)}${s.service}: ${s.name} [${s.kind}] +${fmtMs(s.startNs - traceStart)}ms ${fmtMs(s.durationNs)}ms ${status} (${s.spanId})${message}`,
      );
      shown += 1;
      const own = logs.get(s.spanId) ?? [];
      const indent = `     ${"  ".repeat(node.depth)}`;
      for (const log of own.slice(0, maxLogs)) lines.push(logLine(indent, log));
      if (own.length > maxLogs)
        lines.push(`${indent}| [${own.length - maxLogs} more log records of this span]`);
    }
    for (const child of node.children) walk(child, seen);
  };
  const seen = new Set<TreeNode>();
  for (const root of roots) walk(root, seen);
  // Records of the trace whose span is not stored (or has no span id) would otherwise be invisible.
  const spanIds = new Set(spans.map((s) => s.spanId));
  const orphans = [...logs.entries()].filter(([id]) => !spanIds.has(id)).flatMap(([, list]) => list);
  if (orphans.length > 0) {
    lines.push(`Log records of the trace without a stored span (${orphans.length}):`);
    for (const log of orphans.slice(0, maxLogs)) lines.push(logLine("   ", log));
    if (orphans.length > maxLogs) lines.push(`   | [${orphans.length - maxLogs} more]`);
  }
  if (shown < spans.length) {
    lines.push(
      `[waterfall cut: showing ${shown} of ${spans.length} spans; use run_sql on this TraceId for the rest]`,
    );
  }
  return { text: lines.join("\n"), shownSpans: shown, totalSpans: spans.length };
}
