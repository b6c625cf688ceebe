import type { WritePacket } from '@nestjs/microservices';
import type { Subscriber } from 'rxjs';
import { CallEnvironment, CallSettings, CallSink, ClientCall } from './client-call.js';
import type { MsRpcCallOptions } from './ms-rpc-record.js';

/** Options of `client.call()`: a record's per-call options, plus cancellation. */
export interface MsRpcCallInit extends MsRpcCallOptions {
  /**
   * Aborting cancels the call (a provider already working on it is told to stop) and rejects
   * the promise with the signal's reason.
   */
  signal?: AbortSignal;
}

/** The client's `serializeResponse` / `serializeError`, so `call()` maps answers as `send()` does. */
export interface AnswerMapper {
  response(value: unknown): unknown;
  error(err: unknown): unknown;
}

/** Starts one `client.call()`: the Promise fast path (see PromiseSink). */
export function promiseCall(
  env: CallEnvironment,
  settings: CallSettings,
  mapper: AnswerMapper,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sink = new PromiseSink(resolve, reject, mapper);
    sink.run(new ClientCall(env, settings, sink), signal);
  });
}

/**
 * The Promise end of `client.call()`: resolves with the last value of the answer (the value of
 * a unary call; `undefined` when the handler produced none, where `lastValueFrom(send())` would
 * reject with an EmptyError), rejects with the call's error. No Observable, no subscriber, no
 * per-call closures: it is its own abort listener.
 */
export class PromiseSink implements CallSink {
  private last: unknown;
  private call: ClientCall | undefined;
  private signal: AbortSignal | undefined;

  constructor(
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (reason: unknown) => void,
    private readonly mapper: AnswerMapper,
  ) {}

  /**
   * Starts `call`, cancelled by `signal` if given. A signal that is already aborted rejects at
   * once and sends nothing.
   */
  run(call: ClientCall, signal: AbortSignal | undefined): void {
    if (signal) {
      if (signal.aborted) return this.reject(signal.reason);
      this.call = call;
      this.signal = signal;
      signal.addEventListener('abort', this, { once: true });
    }
    call.start();
  }

  /** EventListener: the signal aborted. */
  handleEvent(): void {
    const signal = this.signal;
    if (!signal) return;
    this.signal = undefined;
    this.call?.cancel();
    this.reject(signal.reason);
  }

  value(response: unknown): void {
    this.last = response;
  }

  end(hasData: boolean, response: unknown): void {
    this.detach();
    const value = hasData ? response : this.last;
    this.resolve(value === undefined ? undefined : this.mapper.response(value));
  }

  error(err: unknown): void {
    this.detach();
    this.reject(this.mapper.error(err));
  }

  private detach(): void {
    if (!this.signal) return;
    this.signal.removeEventListener('abort', this);
    this.signal = undefined;
  }
}

/** The `publish()` end of a call: Nest's write packets, which `send()`'s observer turns into notifications. */
export class PacketSink implements CallSink {
  constructor(private readonly callback: (packet: WritePacket) => void) {}

  value(response: unknown): void {
    this.callback({ response });
  }

  end(hasData: boolean, response: unknown): void {
    this.callback(hasData ? { response, isDisposed: true } : { isDisposed: true });
  }

  error(err: unknown): void {
    this.callback({ err });
  }
}

/**
 * The `send()` end: notifications straight to the subscriber, mapped as Nest's `createObserver`
 * maps write packets (saves the packet objects and the observer closure per call).
 */
export class SubscriberSink implements CallSink {
  constructor(
    private readonly subscriber: Subscriber<never>,
    private readonly mapper: AnswerMapper,
  ) {}

  value(response: unknown): void {
    this.subscriber.next(this.mapper.response(response) as never);
  }

  end(hasData: boolean, response: unknown): void {
    if (hasData) this.subscriber.next(this.mapper.response(response) as never);
    this.subscriber.complete();
  }

  error(err: unknown): void {
    this.subscriber.error(this.mapper.error(err));
  }
}
