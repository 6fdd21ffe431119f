/**
 * The span tree of one trace as data: what the waterfall renders and the
 * critical path walks (its own module so neither imports the other).
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
