import type { ServiceInstance } from '../registry/service-instance.js';

/** Which registration metadata lists what a provider serves: request patterns or event patterns. */
export type PatternKind = 'patterns' | 'events';

interface Served {
  /** undefined: the instance does not say (static providers, other implementations) → serves everything. */
  patterns?: ReadonlySet<string>;
  events?: ReadonlySet<string>;
}

/**
 * Distinct lists kept parsed. Providers of one service mostly register the same few lists (one per
 * deployed version); past this many the cache starts over rather than grow with every deploy.
 */
const MAX_PARSED_LISTS = 256;

/**
 * What each provider serves, from the `patterns` / `events` metadata MsRpcServer registers (a JSON
 * array of strings). Looked up once per instance object: the directory replaces the object when the
 * registry reports a change, so a WeakMap keyed by it never serves a stale list and never leaks.
 * Each distinct list is parsed once and its set shared: a thousand providers running the same
 * code hold one set of their patterns, not a thousand.
 */
export class PatternIndex {
  private readonly cache = new WeakMap<ServiceInstance, Served>();
  /** Parsed sets by the metadata text they came from (null: malformed). */
  private readonly lists = new Map<string, ReadonlySet<string> | null>();

  /** True when `instance` serves `pattern`, or does not declare what it serves. */
  serves(instance: ServiceInstance, pattern: string, kind: PatternKind): boolean {
    return this.lookup(instance, pattern, kind) !== false;
  }

  /** Whether `instance`'s registration says it serves `pattern`; undefined when it does not say. */
  lookup(instance: ServiceInstance, pattern: string, kind: PatternKind): boolean | undefined {
    let served = this.cache.get(instance);
    if (!served) {
      served = { patterns: this.parsed(instance.metadata?.patterns), events: this.parsed(instance.metadata?.events) };
      this.cache.set(instance, served);
    }
    return served[kind]?.has(pattern);
  }

  private parsed(raw: string | undefined): ReadonlySet<string> | undefined {
    if (raw === undefined) return undefined;
    let set = this.lists.get(raw);
    if (set === undefined) {
      if (this.lists.size >= MAX_PARSED_LISTS) this.lists.clear();
      set = parse(raw) ?? null;
      this.lists.set(raw, set);
    }
    return set ?? undefined;
  }
}

/**
 * A missing or malformed list means "unknown", which must not make a provider unreachable:
 * only a well-formed array of strings restricts routing.
 */
function parse(raw: string | undefined): ReadonlySet<string> | undefined {
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    if (!Array.isArray(value) || !value.every((p) => typeof p === 'string')) return undefined;
    return new Set(value as string[]);
  } catch {
    return undefined;
  }
}
