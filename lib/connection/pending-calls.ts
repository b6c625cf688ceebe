import { Clock, systemClock } from '../common/clock.js';
import { DeadlineQueue } from '../liveness/deadline-queue.js';

/** Receives what the peer answers for one call. Exactly one of onEnd / onError ends it. */
export interface CallObserver {
  onValue(data: unknown): void;
  onEnd(hasData: boolean, data: unknown): void;
  onError(error: unknown): void;
}

interface PendingCall {
  observer: CallObserver;
  /** Kept for timeout messages; not used for routing. */
  pattern: string;
  timeoutMs: number;
}

/**
 * The calls in flight on one socket, keyed by request id. Deadlines live in one
 * {@link DeadlineQueue} (one timer for all calls, not one per call).
 */
export class PendingCalls {
  private readonly calls = new Map<number, PendingCall>();
  private readonly deadlines: DeadlineQueue<number>;
  private lastId = 0;

  constructor(
    private readonly onTimeout: (requestId: number, pattern: string, timeoutMs: number, observer: CallObserver) => void,
    private readonly clock: Clock = systemClock,
  ) {
    this.deadlines = new DeadlineQueue<number>((id) => this.expire(id), clock);
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
    this.calls.set(id, { observer, pattern, timeoutMs });
    this.deadlines.add(id, this.clock.now() + timeoutMs);
    return id;
  }

  get(requestId: number): CallObserver | undefined {
    return this.calls.get(requestId)?.observer;
  }

  /** Removes a call (answered, cancelled or failed); returns its observer if it was pending. */
  take(requestId: number): CallObserver | undefined {
    const call = this.calls.get(requestId);
    if (!call) return undefined;
    this.calls.delete(requestId);
    this.deadlines.delete(requestId);
    return call.observer;
  }

  /** Fails every pending call with the error `makeError` builds (one per call, same reason). */
  failAll(makeError: () => Error): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.deadlines.clear();
    for (const call of calls) call.observer.onError(makeError());
  }

  private expire(requestId: number): void {
    const call = this.calls.get(requestId);
    if (!call) return;
    this.calls.delete(requestId);
    this.onTimeout(requestId, call.pattern, call.timeoutMs, call.observer);
  }
}
