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
