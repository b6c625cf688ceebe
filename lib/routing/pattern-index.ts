import type { ServiceInstance } from '../registry/service-instance.js';

/** Which registration metadata lists what a provider serves: request patterns or event patterns. */
export type PatternKind = 'patterns' | 'events';

interface Served {
  /** undefined: the instance does not say (static providers, other implementations) → serves everything. */
  patterns?: ReadonlySet<string>;
  events?: ReadonlySet<string>;
}

/**
 * What each provider serves, from the `patterns` / `events` metadata MsRpcServer registers (a JSON
 * array of strings). Parsed once per instance object: the directory replaces the object when the
 * registry reports a change, so a WeakMap keyed by it never serves a stale list and never leaks.
 */
export class PatternIndex {
  private readonly cache = new WeakMap<ServiceInstance, Served>();

  /** True when `instance` serves `pattern`, or does not declare what it serves. */
  serves(instance: ServiceInstance, pattern: string, kind: PatternKind): boolean {
    return this.lookup(instance, pattern, kind) !== false;
  }

  /** Whether `instance`'s registration says it serves `pattern`; undefined when it does not say. */
  lookup(instance: ServiceInstance, pattern: string, kind: PatternKind): boolean | undefined {
    let served = this.cache.get(instance);
    if (!served) {
      served = { patterns: parse(instance.metadata?.patterns), events: parse(instance.metadata?.events) };
      this.cache.set(instance, served);
    }
    return served[kind]?.has(pattern);
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
