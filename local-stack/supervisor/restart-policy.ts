/**
 * When to restart a crashed process: exponential backoff from 1 s doubling up
 * to 30 s, reset once the process has stayed up for a minute, so a process
 * that crashes at start does not spin and one that crashed once a day
 * restarts at once.
 */
export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Uptime after which the next crash counts as the first again. */
  stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
};

/** `consecutiveCrashes` counts crashes without a stable run between them (1 for the first). */
export function restartDelayMs(
  consecutiveCrashes: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): number {
  const exponent = Math.max(0, consecutiveCrashes - 1);
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(exponent, 30));
}

/** The crash streak after a process that ran `uptimeMs` exits unexpectedly. */
export function nextCrashStreak(
  previousStreak: number,
  uptimeMs: number,
  policy: RestartPolicy = DEFAULT_RESTART_POLICY,
): number {
  return uptimeMs >= policy.stableAfterMs ? 1 : previousStreak + 1;
}
