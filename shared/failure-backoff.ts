import type { Logger } from "./logger.ts";

/**
 * What a worker loop does when one pass fails (ClickHouse away, a query
 * refused): the stage stays up, says what failed once per distinct error
 * (not once per retry), waits longer after each failure up to a cap, and
 * says when it works again. A supervisor restart cannot fix any of these, so
 * exiting would only turn an outage into a crash loop.
 */
export class FailureBackoff {
  private failures = 0;
  private lastError = "";

  constructor(
    private readonly log: Pick<Logger, "error" | "info">,
    private readonly message: string,
    private readonly delays = { initialMs: 500, maxMs: 30_000 },
  ) {}

  /** Records a failed pass and returns how long to wait before the next one. */
  failed(error: unknown): number {
    this.failures++;
    const text = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
    if (text !== this.lastError)
      this.log.error({ error: text.slice(0, 500), attempt: this.failures }, this.message);
    this.lastError = text;
    const { initialMs, maxMs } = this.delays;
    return Math.min(maxMs, initialMs * 2 ** Math.min(this.failures - 1, 30));
  }

  /** Records a pass that worked; logs the recovery after failures. */
  succeeded(): void {
    if (this.failures > 0) this.log.info({ after: this.failures }, "recovered");
    this.failures = 0;
    this.lastError = "";
  }
}
