/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32).
 * Every random decision of the simulation goes through one of these so that a
 * seed reproduces a run; Math.random is never used for traffic.
 */
const WEIGHT_TABLES = new WeakMap<object, { keys: string[]; bounds: number[]; total: number }>();

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let state = seed >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /**
   * Picks a key with probability proportional to its weight (weights >= 0,
   * sum > 0). The table is prepared once per weights object, so pass stable
   * objects (constants, config) rather than fresh literals.
   */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let table = WEIGHT_TABLES.get(weights);
    if (!table) {
      const keys: string[] = [];
      const bounds: number[] = [];
      let total = 0;
      for (const key of Object.keys(weights) as K[]) {
        const weight = weights[key];
        if (!(weight > 0)) continue;
        total += weight;
        keys.push(key);
        bounds.push(total);
      }
      if (keys.length === 0) throw new Error("weighted pick needs a positive weight");
      table = { keys, bounds, total };
      WEIGHT_TABLES.set(weights, table);
    }
    const roll = this.next() * table.total;
    const { keys, bounds } = table;
    for (let i = 0; i < bounds.length; i++) if (roll < bounds[i]!) return keys[i] as K;
    return keys[keys.length - 1] as K;
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Standard normal (Box-Muller, one value per call for simplicity). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /**
   * Log-normal with the given median and spread (sigma of the log); latencies
   * of real services have this long right tail.
   */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Lowercase hex string of `bytes` random bytes. */
  hex(bytes: number): string {
    let out = "";
    for (let i = 0; i < bytes; i += 4) out += this.nextUint32().toString(16).padStart(8, "0");
    return out.slice(0, bytes * 2);
  }
}
