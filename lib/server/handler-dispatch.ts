import type { LoggerService } from '@nestjs/common';
import type { MessageHandler, WritePacket } from '@nestjs/microservices';
import { finalize, isObservable, Observable, Subject, Subscription, takeUntil } from 'rxjs';
import { NO_MESSAGE_HANDLER_TEXT } from '../errors/no-handler-error.js';
import { RequestCancelledError } from '../errors/request-cancelled-error.js';
import type { Clock } from '../common/clock.js';
import { LOG_INTERVAL_MS, RateLimitedLog } from '../common/rate-limited-log.js';
import { MessageType } from '../protocol/frame-header.js';
import type { EventMessage, RequestMessage } from '../protocol/message.js';
import { callScopes } from '../propagation/call-scope.js';
import { endSpan, type RpcTracing } from '../tracing/rpc-tracing.js';
import type { HandlerRun } from './handler-run.js';
import { MsRpcContext } from './ms-rpc-context.js';
import type { InFlightRequest, ServerConnection } from './server-connection.js';

export type StartHook = (transportId: symbol, context: MsRpcContext, done: () => Promise<unknown>) => unknown;
export type EndHook = (transportId: symbol, context: MsRpcContext) => void;

/** What the dispatch needs from the Nest `Server` it works for (read per request: Nest may set hooks late). */
export interface DispatchHost {
  readonly transportId: symbol;
  readonly logger: LoggerService;
  handlerFor(pattern: string): MessageHandler | null;
  /** The processing start hook now installed, undefined for Nest's default (which only calls `done`). */
  startHook(): StartHook | undefined;
  endHook(): EndHook | undefined;
  /** Nest's `Server.send`: a response stream's values, then its completion or error, as write packets. */
  send(stream$: Observable<unknown>, respond: (packet: WritePacket) => void): Subscription;
  /** Spans per request and event (undefined with `tracing: false`). */
  readonly tracing: RpcTracing | undefined;
  /** Where this server listens (the spans' `server.address` and `server.port`; read only while tracing). */
  readonly host: string;
  readonly port: number;
}

/** What a request whose start hook never ran the handler is answered with. */
const HANDLER_NOT_RUN = { status: 'error', message: 'The processing start hook did not run the handler' } as const;
/** What a request whose start hook threw is answered with: Nest's answer to any error that is not an RpcException. */
const HOOK_FAILED = { status: 'error', message: 'Internal server error' } as const;

/**
 * Requests and events → Nest handlers → frames: Nest's `handleRequest` and `handleEvent` minus the
 * per-request rxjs pipeline. Nest's handler proxy resolves to the handler's plain value (sync or
 * async handlers without interceptors) or to an Observable (Observable handlers, interceptors,
 * and errors mapped by exception filters). A plain value is answered at once with one End frame;
 * only an Observable goes through Nest's `send`. The processing end hook runs exactly once, when
 * the answer is settled, as in Nest. `test/unit/perf/server-dispatch.spec.ts` holds this to Nest's
 * own path.
 *
 * Each handler's run (its admission slot) is finished here, exactly when the handler is done:
 * its promise settled, or the stream it returned torn down.
 *
 * User hooks are isolated: a start hook that throws fails its call (an error answer) and an end
 * hook that throws is ignored; either is logged, rate-limited, and never reaches the transport.
 *
 * A handler runs in its run's call scope (call-scope.ts: the client calls it makes inherit its
 * deadline and cancellation) and, while tracing, in its span's context, from the handler's call
 * to the subscription of the stream it returns: what it calls, and what its stream calls, is a
 * child of its span. A request's span ends with its call (InFlightRequests), an event's with its
 * handler (here).
 */
export class HandlerDispatch {
  private readonly hookFailures: RateLimitedLog;

  constructor(
    private readonly host: DispatchHost,
    clock: Clock,
  ) {
    this.hookFailures = new RateLimitedLog((line, stack) => host.logger.error(line, stack), LOG_INTERVAL_MS, clock);
  }

  /** Hook failures counted since construction. */
  get hookFailureCount(): number {
    return this.hookFailures.count;
  }

  /** Logs what the rate limit still holds back and stops its timer. */
  close(): void {
    this.hookFailures.close();
  }

  onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void {
    const pattern = message.pattern;
    const handler = this.host.handlerFor(pattern);
    if (!handler || handler.isEventHandler) {
      request.finished();
      connection.respond(request, {
        type: MessageType.Error,
        requestId: request.requestId,
        // Nest's text, plus the code clients map to a NoHandlerError.
        error: { status: 'error', code: 'ERR_NO_HANDLER', message: `${NO_MESSAGE_HANDLER_TEXT} Pattern: ${pattern}` },
      });
      return;
    }
    const context = new MsRpcContext([connection.remoteAddress, pattern, request.requestId, message.metadata], request);
    const tracing = this.host.tracing;
    if (tracing !== undefined) {
      request.trace = tracing.startIncoming(pattern, false, message.metadata, connection.remoteAddress, this.host);
    }
    const startHook = this.host.startHook();
    if (startHook === undefined) {
      this.dispatch(handler, message.data, context, connection, request, false);
      return;
    }
    // A custom hook (tracing, AsyncLocalStorage...) wraps the handler exactly as Nest's
    // handleRequest does: `done` resolves once the handler produced its result and rejects
    // when it failed, which the hook may propagate; a failing hook still answers.
    this.runHooked(startHook, context, request, () => this.dispatch(handler, message.data, context, connection, request, true), (err, hookThrew) =>
      connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: hookThrew ? HOOK_FAILED : err }),
    );
  }

  /** An admitted event (`run` holds its slot) whose pattern has a handler. */
  onEvent(connection: ServerConnection, message: EventMessage, run: HandlerRun): void {
    const pattern = message.pattern;
    const handler = this.host.handlerFor(pattern);
    if (!handler) {
      run.finished();
      return;
    }
    const context = new MsRpcContext([connection.remoteAddress, pattern, 0, message.metadata], run);
    const tracing = this.host.tracing;
    if (tracing !== undefined) {
      run.trace = tracing.startIncoming(pattern, true, message.metadata, connection.remoteAddress, this.host);
    }
    const failed = (err: unknown) => {
      endTrace(run, err);
      this.host.logger.error(`event handler for "${pattern}" failed: ${(err as Error)?.message ?? err}`, (err as Error)?.stack);
    };
    const startHook = this.host.startHook();
    if (startHook === undefined) {
      this.runEvent(handler, message.data, context, run).catch(failed);
      return;
    }
    this.runHooked(startHook, context, run, () => this.runEvent(handler, message.data, context, run), failed);
  }

  /** Nest's write packets → frames. `{response, isDisposed}` becomes one End frame. */
  writePacket(connection: ServerConnection, request: InFlightRequest, packet: WritePacket): void {
    const requestId = request.requestId;
    if (packet.err !== undefined && packet.err !== null) {
      connection.respond(request, { type: MessageType.Error, requestId, error: packet.err });
    } else if (packet.isDisposed) {
      connection.respond(
        request,
        packet.response === undefined
          ? { type: MessageType.End, requestId, hasData: false }
          : { type: MessageType.End, requestId, hasData: true, data: packet.response },
      );
    } else {
      connection.respond(request, { type: MessageType.Response, requestId, data: packet.response });
    }
  }

  /**
   * Runs `handle` inside the user's start hook. `failed` gets what the hook threw (`hookThrew`:
   * logged here) or rejected with (the handler's failure, when the hook passes `done`'s on), or an
   * error when the hook returned without ever calling `done`; `run` is finished here when the
   * handler never started, since nothing else would free its slot.
   */
  private runHooked(
    startHook: StartHook,
    context: MsRpcContext,
    run: HandlerRun,
    handle: () => Promise<void>,
    failed: (err: unknown, hookThrew: boolean) => void,
  ): void {
    let started = false;
    let handled: unknown;
    try {
      handled = startHook(this.host.transportId, context, () => {
        started = true;
        return handle();
      });
    } catch (err) {
      this.hookFailed('processing start hook', err);
      if (!started) run.finished();
      failed(err, true);
      return;
    }
    const notRun = () => {
      if (started) return;
      this.hookFailed('processing start hook', new Error(`returned without running the handler for "${context.getPattern()}"`));
      run.finished();
      failed(HANDLER_NOT_RUN, false);
    };
    if (!(handled instanceof Promise)) {
      notRun();
      return;
    }
    handled.then(notRun, (err: unknown) => {
      if (!started) run.finished();
      failed(err, false);
    });
  }

  /**
   * Runs the handler and answers. With `rethrow` (inside a custom start hook) a failing handler
   * rejects the returned promise, like Nest's `done`; otherwise the failure is answered here.
   * The handler's promise is chained with `then` (no async function): one promise less per call.
   */
  private dispatch(
    handler: MessageHandler,
    data: unknown,
    context: MsRpcContext,
    connection: ServerConnection,
    request: InFlightRequest,
    rethrow: boolean,
    inScope = false,
  ): Promise<void> {
    // Again in the request's scope, when there is one to enter: no closure per request otherwise.
    if (!inScope && (request.trace !== undefined || callScopes.active)) {
      return this.inScope(request, () => this.dispatch(handler, data, context, connection, request, rethrow, true));
    }
    return this.produce(handler, data, context).then(
      (result) => this.answer(result, context, connection, request),
      (err: unknown) => {
        request.finished();
        this.endProcessing(context);
        if (rethrow) throw err;
        connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: err });
      },
    );
  }

  /** Runs `fn` in `run`'s call scope, and in its span's context while tracing. */
  private inScope<R>(run: HandlerRun, fn: () => R): R {
    const trace = run.trace;
    if (trace === undefined) return callScopes.run(run, fn);
    return this.host.tracing!.within(trace, () => callScopes.run(run, fn));
  }

  /** The handler's result as a promise (Nest's proxies are async; a raw handler may return anything or throw). */
  private produce(handler: MessageHandler, data: unknown, context: MsRpcContext): Promise<unknown> {
    try {
      return Promise.resolve(handler(data, context));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private answer(result: unknown, context: MsRpcContext, connection: ServerConnection, request: InFlightRequest): void {
    if (isObservable(result)) {
      this.stream(result, context, connection, request);
      return;
    }
    request.finished();
    this.endProcessing(context);
    connection.respond(
      request,
      result === undefined
        ? { type: MessageType.End, requestId: request.requestId, hasData: false }
        : { type: MessageType.End, requestId: request.requestId, hasData: true, data: result },
    );
  }

  /** A real stream: Nest's `send` (ordering, error mapping), stopped by a cancel or connection loss. */
  private stream(
    response$: Observable<unknown>,
    context: MsRpcContext,
    connection: ServerConnection,
    request: InFlightRequest,
  ): void {
    if (!connection.isActive(request) || request.aborted) {
      // Cancelled (or the connection closed, or the deadline passed) before the handler produced its
      // stream: never subscribe it, or an endless stream would run unobserved forever.
      request.finished();
      this.endProcessing(context);
      this.failPastDeadline(connection, request);
      return;
    }
    const cancelled = new Subject<void>();
    request.onCancel = () => {
      this.failPastDeadline(connection, request);
      cancelled.next();
    };
    this.host.send(
      response$.pipe(
        takeUntil(cancelled),
        finalize(() => {
          request.finished();
          this.endProcessing(context);
        }),
      ),
      (packet: WritePacket) => this.writePacket(connection, request, packet),
    );
    // The caller's deadline cuts the stream even when the handler never reads its signal (armed
    // once subscribed: a deadline already past stops it at once).
    request.armDeadline();
  }

  /**
   * Past the caller's deadline a stream is cut with an error, not completed: a caller (one without
   * a timer of its own) must not take a truncated stream for a whole one. A no-op for other aborts
   * (the call already ended) and once answered.
   */
  private failPastDeadline(connection: ServerConnection, request: InFlightRequest): void {
    const reason = request.abortReason;
    if (reason instanceof RequestCancelledError && reason.kind === 'deadline-exceeded') {
      connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: reason });
    }
  }

  /**
   * An event's handler, as Nest's `handleEvent`: a returned stream runs with nobody taking its
   * values; its end is the handler's end (its slot is freed, the end hook runs), and the shutdown
   * can stop it. Unlike Nest, the stream's error is logged rather than lost.
   */
  private runEvent(handler: MessageHandler, data: unknown, context: MsRpcContext, run: HandlerRun): Promise<void> {
    return this.inScope(run, () =>
      this.produce(handler, data, context).then(
        (result) => {
          if (!isObservable(result) || run.aborted) {
            endTrace(run);
            run.finished();
            this.endProcessing(context);
            return;
          }
          const pattern = context.getPattern();
          const subscription = result
            .pipe(
              finalize(() => {
                endTrace(run);
                run.finished();
                this.endProcessing(context);
              }),
            )
            .subscribe({
              error: (err: unknown) => {
                endTrace(run, err);
                this.host.logger.error(`event stream for "${pattern}" failed: ${(err as Error)?.message ?? err}`, (err as Error)?.stack);
              },
            });
          if (run.isRunning) run.onCancel = () => subscription.unsubscribe();
        },
        (err: unknown) => {
          run.finished();
          this.endProcessing(context);
          throw err;
        },
      ),
    );
  }

  /** Runs the processing end hook (if any) for a handler whose answer is settled. */
  private endProcessing(context: MsRpcContext): void {
    const hook = this.host.endHook();
    if (hook === undefined) return;
    try {
      hook(this.host.transportId, context);
    } catch (err) {
      this.hookFailed('processing end hook', err);
    }
  }

  private hookFailed(which: string, err: unknown): void {
    this.hookFailures.report(`${which} failed: ${(err as Error)?.message ?? String(err)}`, (err as Error)?.stack);
  }
}

/** Ends an event handler's span (once), as failed with `error` if given. */
function endTrace(run: HandlerRun, error?: unknown): void {
  const trace = run.trace;
  if (trace === undefined) return;
  run.trace = undefined;
  endSpan(trace.span, error);
}
