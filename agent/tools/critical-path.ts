import type { TreeNode } from "./span-tree.ts";

/**
 * The critical path of a trace by the standard algorithm (the one Jaeger's UI
 * uses): start at the end of the root and walk back in time. At each span,
 * the child that finished last before the current point bounds the parent -
 * descend into it; when a span has no child left that ends before the point,
 * its own time from its start to the point is on the path and the walk
 * returns to its parent at the span's start. Children that overlap a child
 * already on the path are skipped (the parent was waiting for the later one),
 * gaps between children are the parent's own time.
 *
 * Children are first clipped to their parent's time range: a child that
 * starts before its parent or ends after it (clock skew, async work that
 * outlives the request) counts only inside the parent; a child entirely
 * outside (a consumer that runs after the producer returned) is off the
 * path, with all its descendants.
 */
export interface CriticalSection {
  spanId: string;
  startNs: number;
  endNs: number;
}

export interface CriticalPath {
  /** Sections latest first; together they tile the root's time range. */
  sections: CriticalSection[];
  /** Span ids on the path. */
  spans: Set<string>;
  /** Per span on the path: time on the path spent in the span or its descendants (ns). */
  coverageNs: Map<string, number>;
  /** The root's (clipped) duration: the length of the path. */
  lengthNs: number;
}

interface Clipped {
  node: TreeNode;
  parent: Clipped | undefined;
  startNs: number;
  endNs: number;
  /** Clipped children, latest end first; `next` walks them as the point moves back. */
  children: Clipped[];
  next: number;
}

const endOf = (node: TreeNode) => node.span.startNs + node.span.durationNs;

function clip(
  node: TreeNode,
  parent: Clipped | undefined,
  startNs: number,
  endNs: number,
  seen: Set<TreeNode>,
): Clipped {
  seen.add(node);
  const clipped: Clipped = { node, parent, startNs, endNs, children: [], next: 0 };
  for (const child of node.children) {
    if (seen.has(child)) continue; // parent cycles in bad data

    const start = Math.max(child.span.startNs, startNs);
    const end = Math.min(endOf(child), endNs);
    // Entirely outside the parent (or cut to nothing while the parent has length): not what it waited for.
    if (end < start || (end === start && endOf(child) > child.span.startNs && endNs > startNs)) continue;
    clipped.children.push(clip(child, clipped, start, end, seen));
  }
  clipped.children.sort(
    (a, b) =>
      b.endNs - a.endNs || b.startNs - a.startNs || a.node.span.spanId.localeCompare(b.node.span.spanId),
  );
  return clipped;
}

/** The root the path starts from: the one that ends last (ties: the longest). */
function pickRoot(roots: TreeNode[]): TreeNode | undefined {
  let best: TreeNode | undefined;
  for (const root of roots) {
    if (
      !best ||
      endOf(root) > endOf(best) ||
      (endOf(root) === endOf(best) && root.span.durationNs > best.span.durationNs)
    )
      best = root;
  }
  return best;
}

/** The latest-ending child of `span` that ends at or before `pointNs` and was not taken yet. */
function nextChild(span: Clipped, pointNs: number): Clipped | undefined {
  while (span.next < span.children.length) {
    const child = span.children[span.next]!;
    span.next += 1;
    // Ends after the point: it overlaps a later child already on the path; the point only moves back, so never again.
    if (child.endNs <= pointNs) return child;
  }
  return undefined;
}

export function criticalPath(roots: TreeNode[]): CriticalPath {
  const sections: CriticalSection[] = [];
  const coverageNs = new Map<string, number>();
  const root = pickRoot(roots);
  if (!root) return { sections, spans: new Set(), coverageNs, lengthNs: 0 };
  const top = clip(root, undefined, root.span.startNs, endOf(root), new Set());
  const add = (span: Clipped, startNs: number, endNs: number) => {
    if (endNs > startNs) sections.push({ spanId: span.node.span.spanId, startNs, endNs });
    for (let s: Clipped | undefined = span; s; s = s.parent) {
      const id = s.node.span.spanId;
      coverageNs.set(id, (coverageNs.get(id) ?? 0) + Math.max(0, endNs - startNs));
    }
  };
  let span = top;
  let pointNs = top.endNs;
  // Each step takes a child (at most once per child) or returns to a parent: linear in the spans.
  for (;;) {
    const child = nextChild(span, pointNs);
    if (child) {
      add(span, child.endNs, pointNs);
      span = child;
      pointNs = child.endNs;
      continue;
    }
    add(span, span.startNs, pointNs);
    if (!span.parent) break;
    pointNs = span.startNs;
    span = span.parent;
  }
  return { sections, spans: new Set(coverageNs.keys()), coverageNs, lengthNs: top.endNs - top.startNs };
}
