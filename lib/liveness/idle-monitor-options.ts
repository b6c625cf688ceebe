import { systemClock, type Clock } from '../common/clock.js';
import { checkFunction, checkInteger, checkKnownKeys } from '../common/option-checks.js';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { MAX_TIMER_DELAY_MS } from './timer-delay.js';

/** Reader/writer idle detection for one connection (Netty `IdleStateHandler` semantics). */
export interface IdleMonitorOptions {
  /**
   * Reader idle time in ms: `onReaderIdle` fires when nothing was read for this long, and again every
   * `readerIdleMs` for as long as nothing is read. `0` disables reader idle detection.
   * @default 0
   */
  readerIdleMs: number;
  /**
   * Writer idle time in ms: `onWriterIdle` fires when nothing was written for this long, and again
   * every `writerIdleMs` while nothing is written. `0` disables writer idle detection.
   * @default 0
   */
  writerIdleMs: number;
  /**
   * Called with the time since the last read (`readerIdleMs`, then 2×, 3×, ... while still idle).
   * Must not throw: the monitor keeps running, but the error surfaces as an uncaught exception.
   * @default none (required)
   */
  onReaderIdle: (idleForMs: number) => void;
  /**
   * Called with the time since the last write; typically sends a ping (which calls `markWrite()`).
   * Must not throw (see `onReaderIdle`).
   * @default none (required)
   */
  onWriterIdle: (idleForMs: number) => void;
  /**
   * Time source and timer factory.
   * @default systemClock
   */
  clock: Clock;
}

/** What the constructor accepts: the callbacks are required, everything else defaults. */
export type IdleMonitorInit = Partial<IdleMonitorDefaults> & Pick<IdleMonitorOptions, 'onReaderIdle' | 'onWriterIdle'>;

/** The fields that have a default. */
export type IdleMonitorDefaults = Pick<IdleMonitorOptions, 'readerIdleMs' | 'writerIdleMs' | 'clock'>;

export const DEFAULT_IDLE_MONITOR_OPTIONS: Readonly<IdleMonitorDefaults> = Object.freeze({
  readerIdleMs: 0,
  writerIdleMs: 0,
  clock: systemClock,
});

const KNOWN_KEYS: readonly (keyof IdleMonitorOptions)[] = [
  'readerIdleMs',
  'writerIdleMs',
  'onReaderIdle',
  'onWriterIdle',
  'clock',
];

/** Validates an idle time (also used by the runtime setters). */
export function checkIdleMs(field: string, value: unknown): number {
  return checkInteger(field, value, 0, MAX_TIMER_DELAY_MS);
}

/**
 * Fills defaults and validates once; throws {@link InvalidOptionsError} naming the field
 * (`${fieldPrefix}.${field}`). A field explicitly set to `undefined` takes its default.
 */
export function resolveIdleMonitorOptions(init: IdleMonitorInit, fieldPrefix = 'idle'): IdleMonitorOptions {
  const name = (field: string): string => (fieldPrefix ? `${fieldPrefix}.${field}` : field);
  if (init === null || typeof init !== 'object') {
    throw new InvalidOptionsError(fieldPrefix || 'options', 'expected an object with onReaderIdle and onWriterIdle');
  }
  checkKnownKeys(fieldPrefix, init, KNOWN_KEYS);
  const clock = init.clock ?? DEFAULT_IDLE_MONITOR_OPTIONS.clock;
  if (clock === null || typeof clock !== 'object') {
    throw new InvalidOptionsError(name('clock'), 'expected a Clock object');
  }
  checkFunction(name('clock.now'), clock.now);
  checkFunction(name('clock.setTimeout'), clock.setTimeout);
  checkFunction(name('clock.clearTimeout'), clock.clearTimeout);
  return {
    readerIdleMs: checkIdleMs(name('readerIdleMs'), init.readerIdleMs ?? DEFAULT_IDLE_MONITOR_OPTIONS.readerIdleMs),
    writerIdleMs: checkIdleMs(name('writerIdleMs'), init.writerIdleMs ?? DEFAULT_IDLE_MONITOR_OPTIONS.writerIdleMs),
    onReaderIdle: checkFunction<IdleMonitorOptions['onReaderIdle']>(name('onReaderIdle'), init.onReaderIdle),
    onWriterIdle: checkFunction<IdleMonitorOptions['onWriterIdle']>(name('onWriterIdle'), init.onWriterIdle),
    clock,
  };
}
