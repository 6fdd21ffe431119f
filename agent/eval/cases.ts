import { FLOW_SERVICES } from "../testing/synthetic.ts";

/** Every service name of the seeded run: a "name" answer must name the true one before any other. */
export const EVAL_SERVICES = [...new Set(FLOW_SERVICES.flat())];

/**
 * One question with its truth computed by SQL on the seeded data.
 * - name: the first service the answer names must be the truth;
 * - number: the answer must contain the truth within a tolerance;
 * - phrase: the answer must contain the truth text;
 * - trace: truthSql returns (TraceId, origin service) pairs; the answer must
 *   quote one of those trace ids and name that trace's origin service.
 */
export interface EvalCase {
  id: string;
  question: string;
  truthSql: string;
  kind: "name" | "number" | "phrase" | "trace";
  relativeTolerance?: number;
  absoluteTolerance?: number;
  /**
   * What the scripted model (the harness check, `--scripted`) runs through
   * run_sql; its answer is built from the first row the tool returns.
   */
  scriptedSql: string;
}

const FAILED_MOBILE_ORIGINS = `
SELECT e.TraceId, e.ServiceName FROM otel_traces AS e
WHERE e.StatusCode = 'Error'
  AND e.TraceId IN (SELECT TraceId FROM otel_traces WHERE ServiceName = 'mobile-api' AND ParentSpanId = '' AND StatusCode = 'Error')
  AND e.SpanId NOT IN (SELECT ParentSpanId FROM otel_traces WHERE StatusCode = 'Error' AND ParentSpanId != '')
ORDER BY e.TraceId`;

export const EVAL_CASES: EvalCase[] = [
  {
    id: "most-errors",
    question: "Which service has the most error spans overall?",
    truthSql:
      "SELECT ServiceName FROM otel_traces WHERE StatusCode = 'Error' GROUP BY ServiceName ORDER BY count() DESC, ServiceName LIMIT 1",
    kind: "name",
    scriptedSql:
      "SELECT ServiceName, count() AS errors FROM otel_traces WHERE StatusCode = 'Error' GROUP BY ServiceName ORDER BY errors DESC, ServiceName LIMIT 5",
  },
  {
    id: "payment-errors",
    question: "How many error spans does the payment service have in total?",
    truthSql: "SELECT count() FROM otel_traces WHERE ServiceName = 'payment' AND StatusCode = 'Error'",
    kind: "number",
    relativeTolerance: 0.01,
    scriptedSql:
      "SELECT count() AS errors FROM otel_traces WHERE ServiceName = 'payment' AND StatusCode = 'Error'",
  },
  {
    id: "checkout-p95",
    question:
      "What is the p95 duration, in milliseconds, of the checkout service's 'POST /checkout' server spans?",
    truthSql:
      "SELECT quantileExact(0.95)(Duration) / 1e6 FROM otel_traces WHERE ServiceName = 'checkout' AND SpanName = 'POST /checkout' AND SpanKind = 'Server'",
    kind: "number",
    relativeTolerance: 0.1,
    scriptedSql:
      "SELECT round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms FROM otel_traces WHERE ServiceName = 'checkout' AND SpanName = 'POST /checkout' AND SpanKind = 'Server'",
  },
  {
    id: "slowest-route",
    question: "Which route (span name) of the checkout service has the highest p95 duration?",
    truthSql:
      "SELECT SpanName FROM otel_traces WHERE ServiceName = 'checkout' GROUP BY SpanName ORDER BY quantileExact(0.95)(Duration) DESC LIMIT 1",
    kind: "phrase",
    scriptedSql:
      "SELECT SpanName, quantile(0.95)(Duration) / 1e6 AS p95_ms FROM otel_traces WHERE ServiceName = 'checkout' GROUP BY SpanName ORDER BY p95_ms DESC LIMIT 3",
  },
  {
    id: "payment-top-message",
    question: "What is the most common error message on the payment service?",
    truthSql:
      "SELECT StatusMessage FROM otel_traces WHERE ServiceName = 'payment' AND StatusCode = 'Error' AND StatusMessage != '' GROUP BY StatusMessage ORDER BY count() DESC LIMIT 1",
    kind: "phrase",
    scriptedSql:
      "SELECT StatusMessage, count() AS n FROM otel_traces WHERE ServiceName = 'payment' AND StatusCode = 'Error' AND StatusMessage != '' GROUP BY StatusMessage ORDER BY n DESC LIMIT 3",
  },
  {
    id: "slowest-p95",
    question: "Which service has the highest p95 span duration?",
    truthSql:
      "SELECT ServiceName FROM otel_traces GROUP BY ServiceName ORDER BY quantileExact(0.95)(Duration) DESC LIMIT 1",
    kind: "name",
    scriptedSql:
      "SELECT ServiceName, quantileExact(0.95)(Duration) / 1e6 AS p95_ms FROM otel_traces GROUP BY ServiceName ORDER BY p95_ms DESC LIMIT 3",
  },
  {
    id: "frontend-error-rate",
    question: "What percentage of the frontend service's spans are errors?",
    truthSql:
      "SELECT countIf(StatusCode = 'Error') * 100 / count() FROM otel_traces WHERE ServiceName = 'frontend'",
    kind: "number",
    relativeTolerance: 0.1,
    absoluteTolerance: 0.05,
    scriptedSql:
      "SELECT round(countIf(StatusCode = 'Error') * 100 / count(), 2) AS error_pct FROM otel_traces WHERE ServiceName = 'frontend'",
  },
  {
    id: "failing-trace-origin",
    question:
      "Find one failed trace whose root span is in mobile-api. Give its trace id and the service whose span failed first, i.e. where the error originated.",
    truthSql: FAILED_MOBILE_ORIGINS,
    kind: "trace",
    scriptedSql: `${FAILED_MOBILE_ORIGINS}\nLIMIT 1`,
  },
  {
    id: "compare-windows",
    question:
      "Compare the last hour with the hour before it: how many error spans did the checkout service have in the last hour?",
    truthSql:
      "SELECT countIf(Timestamp >= now() - INTERVAL 1 HOUR) FROM otel_traces WHERE ServiceName = 'checkout' AND StatusCode = 'Error'",
    kind: "number",
    relativeTolerance: 0.05,
    absoluteTolerance: 2,
    scriptedSql:
      "SELECT countIf(Timestamp >= now() - INTERVAL 1 HOUR) AS last_hour, countIf(Timestamp < now() - INTERVAL 1 HOUR AND Timestamp >= now() - INTERVAL 2 HOUR) AS hour_before FROM otel_traces WHERE ServiceName = 'checkout' AND StatusCode = 'Error'",
  },
  {
    id: "trace-count",
    question: "How many distinct traces are stored?",
    truthSql: "SELECT uniqExact(TraceId) FROM otel_traces",
    kind: "number",
    relativeTolerance: 0.01,
    scriptedSql: "SELECT uniqExact(TraceId) AS traces FROM otel_traces",
  },
];
