import { MAX_MESSAGE_CHARS, maskedTokens, normalizeMessage } from "./mask.ts";

/**
 * A Drain-style miner (He et al., ICWS 2017): messages are masked, grouped by
 * token count and first token, and within a group a message joins the most
 * similar template (share of positions with the same token >= threshold);
 * positions where members differ become WILDCARD.
 *
 * Deterministic and independent of input order: distinct raw messages are
 * counted first, their masked forms are clustered most frequent first (ties
 * by text), so the same multiset of messages always yields the same patterns.
 */
export const WILDCARD = "<*>";

export interface PatternOptions {
  /** Share of token positions that must match to join a template (0..1]. Default 0.6. */
  similarity?: number;
  /** Raw example messages kept per pattern. Default 3. */
  examples?: number;
  /** Templates kept; further new shapes are counted in one overflow pattern. Default 5000. */
  maxPatterns?: number;
}

export interface Pattern {
  /** Tokens joined by spaces; masks like <NUM>, merged positions as <*>. */
  template: string;
  tokens: string[];
  /** Messages (with their weights) that fell into this pattern. */
  count: number;
  /** Up to `examples` distinct raw messages (normalized, capped), most frequent first. */
  examples: string[];
}

/** The pattern that counts messages once maxPatterns templates exist. */
export const OVERFLOW_TEMPLATE = "<other patterns>";

interface Cluster {
  tokens: string[];
  count: number;
  examples: Array<{ text: string; count: number }>;
  order: number;
}

interface Shape {
  tokens: string[];
  count: number;
  /** The raw messages (as added) with this masked form. */
  keys: string[];
  examples: Array<{ text: string; count: number }>;
}

const DEFAULTS = { similarity: 0.6, examples: 3, maxPatterns: 5000 };

function similarity(template: string[], tokens: string[]): number {
  let same = 0;
  for (let i = 0; i < tokens.length; i++) if (template[i] === tokens[i]) same += 1;
  return same / tokens.length;
}

/** Accumulates messages; `patterns()` clusters what it has seen. */
export class PatternMiner {
  private readonly raw = new Map<string, number>();
  private readonly options: Required<PatternOptions>;
  private readonly templates = new Map<string, string>();

  constructor(options: PatternOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
    if (!(this.options.similarity > 0 && this.options.similarity <= 1))
      throw new RangeError("similarity must be in (0, 1]");
  }

  /** Adds a message seen `count` times (e.g. a GROUP BY count from ClickHouse). */
  add(message: string, count = 1): void {
    if (!(count > 0)) return;
    // Keyed by the capped text: a huge message costs no more than its template needs.
    const key = message.length > MAX_MESSAGE_CHARS ? message.slice(0, MAX_MESSAGE_CHARS) : message;
    this.raw.set(key, (this.raw.get(key) ?? 0) + count);
  }

  patterns(): Pattern[] {
    const shapes = this.maskedShapes();
    const groups = new Map<string, Cluster[]>();
    const clusters: Cluster[] = [];
    let overflow: Cluster | undefined;
    const members = new Map<Cluster, string[]>();
    for (const shape of shapes) {
      const key = `${shape.tokens.length}\u0000${shape.tokens[0] ?? ""}`;
      const group = groups.get(key) ?? [];
      groups.set(key, group);
      let best: Cluster | undefined;
      let bestSim = -1;
      for (const cluster of group) {
        const sim = similarity(cluster.tokens, shape.tokens);
        if (sim > bestSim) [best, bestSim] = [cluster, sim];
      }
      let target: Cluster;
      if (best && bestSim >= this.options.similarity) {
        target = best;
        target.tokens = target.tokens.map((t, i) => (t === shape.tokens[i] ? t : WILDCARD));
      } else if (clusters.length < this.options.maxPatterns) {
        target = { tokens: [...shape.tokens], count: 0, examples: [], order: clusters.length };
        group.push(target);
        clusters.push(target);
      } else {
        overflow ??= { tokens: [OVERFLOW_TEMPLATE], count: 0, examples: [], order: clusters.length };
        target = overflow;
      }
      target.count += shape.count;
      target.examples.push(...shape.examples);
      const keys = members.get(target) ?? [];
      members.set(target, keys);
      for (const key of shape.keys) keys.push(key);
    }
    if (overflow) clusters.push(overflow);
    this.templates.clear();
    for (const [cluster, keys] of members)
      for (const key of keys) this.templates.set(key, cluster.tokens.join(" "));
    return clusters.map((c) => this.toPattern(c)).sort(byCountThenTemplate);
  }

  /** The template a message added before the last `patterns()` call fell into. */
  templateFor(message: string): string | undefined {
    return this.templates.get(
      message.length > MAX_MESSAGE_CHARS ? message.slice(0, MAX_MESSAGE_CHARS) : message,
    );
  }

  /** Distinct masked token lists with their total counts and raw examples, most frequent first. */
  private maskedShapes() {
    const shapes = new Map<string, Shape>();
    for (const [message, count] of this.raw) {
      const tokens = maskedTokens(message);
      const key = tokens.join(" ");
      const shape: Shape = shapes.get(key) ?? { tokens, count: 0, keys: [], examples: [] };
      shapes.set(key, shape);
      shape.count += count;
      shape.keys.push(message);
      shape.examples.push({ text: normalizeMessage(message), count });
    }
    return [...shapes.entries()]
      .sort(([ka, a], [kb, b]) => b.count - a.count || (ka < kb ? -1 : ka > kb ? 1 : 0))
      .map(([, shape]) => shape);
  }

  private toPattern(cluster: Cluster): Pattern {
    const seen = new Set<string>();
    const examples: string[] = [];
    const ranked = [...cluster.examples].sort(
      (a, b) => b.count - a.count || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0),
    );
    for (const { text } of ranked) {
      if (examples.length >= this.options.examples) break;
      if (!seen.has(text)) {
        seen.add(text);
        examples.push(text);
      }
    }
    return { template: cluster.tokens.join(" "), tokens: cluster.tokens, count: cluster.count, examples };
  }
}

function byCountThenTemplate(a: Pattern, b: Pattern): number {
  return b.count - a.count || (a.template < b.template ? -1 : a.template > b.template ? 1 : 0);
}
