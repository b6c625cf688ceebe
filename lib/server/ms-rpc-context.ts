import { BaseRpcContext } from '@nestjs/microservices';
import type { Metadata } from '../protocol/message.js';
import type { HandlerRun } from './handler-run.js';

/** The arguments of an {@link MsRpcContext}: `@Ctx()`'s `getArgs()`. */
export type MsRpcContextArgs = [remoteAddress: string, pattern: string, requestId: number, metadata?: Metadata];

/**
 * What `@Ctx()` gives a handler served by {@link MsRpcServer}: who called, with which pattern,
 * under which request id (0 for events), the packet metadata the caller attached (e.g. through
 * `ClientProxy.setOnDispatchHook` or a record's metadata), the caller's deadline, and an
 * AbortSignal telling the handler when nobody waits for its answer any more.
 */
export class MsRpcContext extends BaseRpcContext<MsRpcContextArgs> {
  /** A context outside the server (e.g. to unit-test a handler): its signal never aborts. */
  constructor(args: MsRpcContextArgs);
  /** @internal The server's: with the handler's run. */
  constructor(args: MsRpcContextArgs, run: HandlerRun | undefined);
  constructor(
    args: MsRpcContextArgs,
    /** The handler's run (slot and abort signal); absent for a context built outside the server. */
    private readonly run?: HandlerRun,
  ) {
    super(args);
  }

  /** `host:port` of the calling socket. */
  getRemoteAddress(): string {
    return this.args[0];
  }

  getPattern(): string {
    return this.args[1];
  }

  /** The request id on the wire; 0 for events, which have none. */
  getRequestId(): number {
    return this.args[2];
  }

  /**
   * Packet metadata; undefined when the caller sent none (as Nest's `TcpContext`). With tracing on,
   * the caller's W3C trace context is part of it (`traceparent`, `tracestate`), as in HTTP headers.
   */
  getMetadata(): Metadata | undefined {
    return this.args[3];
  }

  /**
   * Ms left of the time budget the caller sent with the request (its timeout, or what it had left
   * of its own caller's), counted from the request's arrival; <= 0 once spent. Undefined for
   * events and for callers that send none (older clients). Client calls this handler makes inherit
   * it by themselves (see the client's `inheritDeadline`).
   */
  remainingMs(): number | undefined {
    return this.run?.remainingMs();
  }

  /**
   * The caller's deadline as wall-clock ms since the epoch (comparable with `Date.now()`), for logs
   * and APIs that take a date; undefined as for {@link remainingMs}, which is what to use for durations.
   */
  getDeadline(): number | undefined {
    return this.run?.wallDeadline();
  }

  /**
   * Aborted when the handler's work is no longer wanted, with a typed reason: a
   * RequestCancelledError when the caller cancelled (it unsubscribed or timed out), its connection
   * was lost, its deadline passed (`deadline-exceeded`), or the server's `close()` ran out of
   * `shutdownTimeout`; a BackpressureError when a
   * response stream outran its reader. Pass it on (`fetch(url, { signal })`, timers, drivers) or
   * check it (`signal.throwIfAborted()`) to stop early: a handler that ignores it keeps running,
   * and keeps its `maxConcurrentRequests` slot, until it finishes. An event's signal aborts only
   * at shutdown (nobody waits for an event's answer). Created on first read: free when unused.
   */
  get signal(): AbortSignal {
    return this.run?.signal ?? new AbortController().signal;
  }
}
