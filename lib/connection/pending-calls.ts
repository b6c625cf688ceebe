import { Clock, systemClock } from '../common/clock.js';
import { ConnectionClosedError } from '../errors/connection-closed-error.js';
import { DeadlineQueue } from '../liveness/deadline-queue.js';

/** Receives what the peer answers for one call. Exactly one of onEnd / onError ends it. */
export interface CallObserver {
  onValue(data: unknown): void;
  onEnd(hasData: boolean, data: unknown): void;
  onError(error: unknown): void;
}

interface PendingCall {
  readonly observer: CallObserver;
  /** Kept for timeout messages; not used for routing. */
  readonly pattern: string;
  readonly timeoutMs: number;
}

/**
 * The calls in flight on one socket, keyed by request id. The {@link DeadlineQueue} that holds
 * their deadlines (one timer for all calls, not one per call) also holds the calls: one map
 * lookup per add, answer and removal instead of one in each of two maps.
 */
export class PendingCalls {
  private readonly calls: DeadlineQueue<number, PendingCall>;
  private lastId = 0;

  constructor(
    private readonly onTimeout: (requestId: number, pattern: string, timeoutMs: number, observer: CallObserver) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.calls = new DeadlineQueue<number, PendingCall>(
      (id, call) => this.onTimeout(id, call.pattern, call.timeoutMs, call.observer),
      clock,
    );
  }

  get size(): number {
    return this.calls.size;
  }

  /** Registers a call and returns its request id (uint32, never 0, unique among pending calls). */
  add(pattern: string, timeoutMs: number, observer: CallObserver): number {
    let id = this.lastId;
    do {
      id = id >= 0xffffffff ? 1 : id + 1;
    } while (this.calls.has(id));
    this.lastId = id;
    this.calls.add(id, this.clock.now() + timeoutMs, { observer, pattern, timeoutMs });
    return id;
  }

  get(requestId: number): CallObserver | undefined {
    return this.calls.get(requestId)?.observer;
  }

  /** Removes a call (answered, cancelled or failed); returns its observer if it was pending. */
  take(requestId: number): CallObserver | undefined {
    return this.calls.take(requestId)?.observer;
  }

  /**
   * Fails every pending call, as closed by `reason`: a ConnectionClosedError is shared by all,
   * anything else becomes one per call, caused by `reason`, so that callers see one error type.
   */
  failAll(address: string, reason: Error): void {
    const observers: CallObserver[] = [];
    this.calls.forEach((call) => observers.push(call.observer));
    this.calls.clear();
    for (const observer of observers) {
      observer.onError(
        reason instanceof ConnectionClosedError
          ? reason
          : new ConnectionClosedError(address, reason.message, { cause: reason }),
      );
    }
  }
}
