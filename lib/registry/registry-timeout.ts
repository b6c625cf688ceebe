import type { Clock, TimerHandle } from '../common/clock.js';
import { RegistryTimeoutError } from '../errors/registry-timeout-error.js';

/**
 * How long one registry call made at startup or shutdown (register, deregister, subscribe,
 * unsubscribe, close) is waited for: a registry that is down or never answers must not hold a
 * server's drain or an application's close.
 */
export const DEFAULT_REGISTRY_TIMEOUT = 3000;

/**
 * `call`, or a {@link RegistryTimeoutError} naming `operation` once `timeoutMs` passed first.
 * The call is not cancelled (registry clients offer no way to): it runs on, and its late outcome
 * is dropped here (a late rejection is not left unhandled). The timer is unref'd (through the
 * Clock) and cleared as soon as the call settles.
 */
export function withRegistryTimeout<T>(call: Promise<T>, operation: string, timeoutMs: number, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: TimerHandle | undefined = clock.setTimeout(() => {
      timer = undefined;
      reject(new RegistryTimeoutError(operation, timeoutMs));
    }, timeoutMs);
    const settle = () => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    };
    call.then(
      (value) => {
        settle();
        resolve(value);
      },
      (err: unknown) => {
        settle();
        reject(err);
      },
    );
  });
}
