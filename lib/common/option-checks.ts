import { InvalidOptionsError } from '../errors/invalid-options-error.js';

/**
 * Small validators shared by every `*-options.ts`. Each throws {@link InvalidOptionsError}
 * naming the field, so a bad configuration fails once, at construction, with a clear message.
 */
export function checkInteger(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionsError(field, `expected an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

export function checkNumber(field: string, value: unknown, min: number, max = Number.MAX_VALUE): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionsError(field, `expected a number in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

export function checkString(field: string, value: unknown, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value.length === 0)) {
    throw new InvalidOptionsError(field, `expected a ${allowEmpty ? '' : 'non-empty '}string, got ${describe(value)}`);
  }
  return value;
}

export function checkOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionsError(field, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

export function checkBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidOptionsError(field, `expected a boolean, got ${describe(value)}`);
  }
  return value;
}

export function checkFunction<T extends (...args: never[]) => unknown>(field: string, value: unknown): T {
  if (typeof value !== 'function') {
    throw new InvalidOptionsError(field, `expected a function, got ${describe(value)}`);
  }
  return value as T;
}

/** The options a caller really set: `{ timeout: undefined }` means "use the default", not "unset it". */
export function definedOptions<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * An options object: a plain object (not null, an array or a primitive, which plain JavaScript
 * lets through) whose keys are all known. Returns it typed as a record for the field checks.
 */
export function checkOptionsObject(field: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionsError(field, `expected an options object, got ${Array.isArray(value) ? 'an array' : describe(value)}`);
  }
  checkKnownKeys(field, value, known);
  return value as Record<string, unknown>;
}

/**
 * A logger (Nest's Logger fits): an object with log, warn and error functions; `debug` and
 * `verbose` optional.
 */
export function checkLogger(field: string, value: unknown): void {
  if (value === null || typeof value !== 'object') throw new InvalidOptionsError(field, 'expected a logger object (log, warn, error)');
  for (const method of ['log', 'warn', 'error'] as const) checkFunction(`${field}.${method}`, (value as Record<string, unknown>)[method]);
}

/** A Registry (what `registry` options take): an object with the Registry methods. */
export function checkRegistry(field: string, value: unknown): void {
  if (value === null || typeof value !== 'object') throw new InvalidOptionsError(field, 'expected a Registry object');
  const r = value as Record<string, unknown>;
  checkString(`${field}.kind`, r.kind);
  checkString(`${field}.identity`, r.identity);
  for (const method of ['register', 'deregister', 'subscribe', 'unsubscribe', 'getInstances', 'isReachable', 'close'] as const) {
    checkFunction(`${field}.${method}`, r[method]);
  }
}

/** Rejects keys the component does not know, which are almost always typos. */
export function checkKnownKeys(prefix: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidOptionsError(prefix ? `${prefix}.${key}` : key, `unknown option (known: ${known.join(', ')})`);
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
