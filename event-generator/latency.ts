/**
 * How load turns into latency and failures. `load` is the recent request
 * rate divided by what the platform serves comfortably; everything that
 * gets worse during the drop (queueing, pool exhaustion, cache churn, a
 * struggling payment provider) is a function of it, so DROP_LIVE degrades
 * because it is busy, not because of its name.
 */
import type { Prng } from "./prng.ts";

/**
 * Requests per second the platform absorbs before queueing becomes visible.
 * Each simulated session stands for a crowd of real users, so the offered
 * load (requests started during the last second) is the concurrency measure.
 */
export const COMFORTABLE_RATE = 60;
/** pg-pool connectionTimeoutMillis. */
export const DB_POOL_TIMEOUT_MS = 2000;
/** The payment client's timeout towards the PSP. */
export const PSP_TIMEOUT_MS = 3000;
export const FRAUD_DECLINE_THRESHOLD = 0.85;

/** Load from the number of requests that started during the last simulated second. */
export function loadOf(recentRequests: number): number {
  return Math.max(0, recentRequests) / COMFORTABLE_RATE;
}

/** Service-time multiplier: flat while idle, quadratic once queues form. */
export function latencyMultiplier(load: number): number {
  return 1 + 2.2 * Math.min(load, 2.5) ** 2;
}

/** Chance that acquiring a pg connection times out. */
export function poolExhaustionProbability(load: number): number {
  if (load <= 0.8) return 0.0003;
  return Math.min(0.2, 0.0003 + 0.12 * (load - 0.8) ** 2);
}

/**
 * Chance that a cache lookup misses: a warm cache misses rarely, but under a
 * drop the hot keys churn (stock counters, new sessions, evictions).
 */
export function cacheMissProbability(baseMiss: number, load: number): number {
  return Math.min(0.9, baseMiss + 0.18 * Math.min(load, 2));
}

/** Chance that the payment provider does not answer within PSP_TIMEOUT_MS. */
export function paymentTimeoutProbability(load: number): number {
  return Math.min(0.35, 0.004 + 0.06 * Math.min(load, 2.5) ** 2);
}

/** Chance that the edge rate limiter refuses a request (bots trip it far more). */
export function rateLimitProbability(load: number, isBot: boolean): number {
  const base = isBot ? 0.12 : 0.002;
  return Math.min(0.6, base * (1 + Math.min(load, 2) * 2));
}

/** Per-request latency sampler bound to the load at the request's start. */
export class LatencyModel {
  readonly mult: number;

  constructor(
    readonly prng: Prng,
    readonly load: number,
  ) {
    this.mult = latencyMultiplier(load);
  }

  /** One network hop inside the cluster. */
  net(): number {
    return this.prng.logNormal(0.35, 0.35) * (1 + 0.3 * (this.mult - 1));
  }

  /** Own CPU/IO work of a service, growing with load. */
  work(medianMs: number, sigma = 0.4): number {
    return this.prng.logNormal(medianMs, sigma) * this.mult;
  }

  /** A call to something outside (PSP, push providers): not affected by our load. */
  external(medianMs: number, sigma = 0.35): number {
    return this.prng.logNormal(medianMs, sigma);
  }

  /** Time spent waiting for a pooled DB connection (grows once the pool is contended). */
  poolWait(): number {
    if (this.load <= 0.6) return 0;
    // Waiting past the pool timeout is exhaustion, which the caller decides separately.
    return Math.min(this.prng.exponential(150 * (this.load - 0.6) ** 2), DB_POOL_TIMEOUT_MS * 0.9);
  }
}
