import { connect as netConnect, type Socket } from 'node:net';
import { Clock, TimerHandle } from '../common/clock.js';

/** Opens the socket of an attempt; injectable so tests can simulate networks they cannot reach. */
export type SocketFactory = (host: string, port: number) => Socket;

export const defaultSocketFactory: SocketFactory = (host, port) => netConnect({ host, port });

/**
 * One connect attempt of a connection slot: the promise `connect()` hands out, its deadline
 * timer, and the two ways it ends. Settling is idempotent and always clears the timer, so
 * whichever comes first (Hello, socket close, close(), deadline) wins and nothing is left armed.
 */
export class ConnectAttempt {
  readonly promise: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  private timer: TimerHandle | undefined;

  /** `onDeadline` runs if neither `succeed` nor `fail` came within `timeoutMs`. */
  constructor(
    private readonly clock: Clock,
    timeoutMs: number,
    onDeadline: () => void,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // The owner may not await this promise (background reconnects): never leave it unhandled.
    this.promise.catch(() => undefined);
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      onDeadline();
    }, timeoutMs);
  }

  succeed(): void {
    this.clearTimer();
    this.resolve();
  }

  fail(error: Error): void {
    this.clearTimer();
    this.reject(error);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
