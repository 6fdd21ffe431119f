/**
 * Pure trace-tree logic: builds the span tree of one trace, finds the
 * critical path and the failing span, and renders an indented waterfall.
 */
export interface TraceSpan {
  spanId: string;
  parentSpanId: string;
  service: string;
  name: string;
  kind: string;
  status: string;
  message: string;
  /** Start, epoch nanoseconds (as a number: precision to ~0.25 us is plenty for a waterfall). */
  startNs: number;
  durationNs: number;
}

export interface TreeNode {
  span: TraceSpan;
  children: TreeNode[];
  depth: number;
}

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

const endOf = (node: TreeNode) => node.span.startNs + node.span.durationNs;

/**
 * The critical path: from the root that ends last, repeatedly follow the child
 * that finishes last before its parent does (the work the parent waited for).
 */
export function criticalPath(roots: TreeNode[]): Set<string> {
  const path = new Set<string>();
  let node = [...roots].sort((a, b) => endOf(b) - endOf(a))[0];
  while (node && !path.has(node.span.spanId)) {
    path.add(node.span.spanId);
    let next: TreeNode | undefined;
    for (const child of node.children) if (!next || endOf(child) > endOf(next)) next = child;
    node = next;
  }
  return path;
}

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

function fmtMs(ns: number): string {
  const ms = ns / 1e6;
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

export interface WaterfallOptions {
  maxSpans: number;
  messageMax?: number;
}

export interface Waterfall {
  text: string;
  shownSpans: number;
  totalSpans: number;
}

/**
 * One line per span in tree order:
 *   `* ! +12.0ms  85.3ms  ERROR  payment: POST /charge  -- card declined`
 * where `*` marks the critical path and `!` the failing span.
 */
export function renderWaterfall(spans: TraceSpan[], options: WaterfallOptions): Waterfall {
  if (spans.length === 0) return { text: "", shownSpans: 0, totalSpans: 0 };
  const roots = buildTree(spans);
  const critical = criticalPath(roots);
  const failing = failingSpans(roots);
  const traceStart = Math.min(...spans.map((s) => s.startNs));
  const traceEnd = Math.max(...spans.map((s) => s.startNs + s.durationNs));
  const errorCount = spans.filter((s) => s.status === "Error").length;
  const services = new Set(spans.map((s) => s.service));
  const lines: string[] = [
    `${spans.length} spans, ${services.size} services, ${fmtMs(traceEnd - traceStart)}ms total, ${errorCount} error spans.`,
    "Legend: * critical path, ! failing span (error not explained by a failing child); offset from trace start, duration.",
  ];
  const messageMax = options.messageMax ?? 160;
  let shown = 0;
  const walk = (node: TreeNode, seen: Set<TreeNode>) => {
    if (seen.has(node)) return;
    seen.add(node);
    if (shown < options.maxSpans) {
      const s = node.span;
      const marks = `${critical.has(s.spanId) ? "*" : " "}${failing.has(s.spanId) ? "!" : " "}`;
      const status = s.status === "Error" ? "ERROR" : s.status === "Ok" ? "ok" : "-";
      const message =
        s.status === "Error" && s.message
          ? `  -- ${s.message.replace(/\s+/g, " ").slice(0, messageMax)}`
          : "";
      lines.push(
        `${marks} ${"  ".repeat(node.depth)}${s.service}: ${s.name} [${s.kind}] +${fmtMs(s.startNs - traceStart)}ms ${fmtMs(s.durationNs)}ms ${status} (${s.spanId})${message}`,
      );
      shown += 1;
    }
    for (const child of node.children) walk(child, seen);
  };
  const seen = new Set<TreeNode>();
  for (const root of roots) walk(root, seen);
  if (shown < spans.length) {
    lines.push(
      `[waterfall cut: showing ${shown} of ${spans.length} spans; use run_sql on this TraceId for the rest]`,
    );
  }
  return { text: lines.join("\n"), shownSpans: shown, totalSpans: spans.length };
}
