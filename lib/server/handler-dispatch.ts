import type { LoggerService } from '@nestjs/common';
import type { MessageHandler, ReadPacket, WritePacket } from '@nestjs/microservices';
import { finalize, isObservable, Observable, Subject, Subscription, takeUntil } from 'rxjs';
import { NO_MESSAGE_HANDLER_TEXT } from '../errors/no-handler-error.js';
import { MessageType } from '../protocol/frame-header.js';
import type { EventMessage, RequestMessage } from '../protocol/message.js';
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
  /** Nest's `Server.handleEvent`. */
  handleEvent(pattern: string, packet: ReadPacket, context: MsRpcContext): Promise<unknown>;
}

/**
 * Requests → Nest handlers → frames: Nest's `handleRequest` minus the per-request rxjs pipeline.
 * Nest's handler proxy resolves to the handler's plain value (sync or async handlers without
 * interceptors) or to an Observable (Observable handlers, interceptors, and errors mapped by
 * exception filters). A plain value is answered at once with one End frame; only an Observable
 * goes through Nest's `send`. The processing end hook runs exactly once, when the answer is
 * settled, as in Nest. `test/unit/perf/server-dispatch.spec.ts` holds this to Nest's own path.
 */
export class HandlerDispatch {
  constructor(private readonly host: DispatchHost) {}

  onRequest(connection: ServerConnection, message: RequestMessage, request: InFlightRequest): void {
    const pattern = message.pattern;
    const handler = this.host.handlerFor(pattern);
    if (!handler || handler.isEventHandler) {
      connection.respond(request, {
        type: MessageType.Error,
        requestId: request.requestId,
        // Nest's text, plus the code clients map to a NoHandlerError.
        error: { status: 'error', code: 'ERR_NO_HANDLER', message: `${NO_MESSAGE_HANDLER_TEXT} Pattern: ${pattern}` },
      });
      return;
    }
    const context = new MsRpcContext([connection.remoteAddress, pattern, request.requestId, message.metadata ?? {}]);
    const startHook = this.host.startHook();
    if (startHook === undefined) {
      this.dispatch(handler, message.data, context, connection, request, false);
      return;
    }
    // A custom hook (tracing, AsyncLocalStorage...) wraps the handler exactly as Nest's
    // handleRequest does: `done` resolves once the handler produced its result and rejects
    // when it failed, which the hook may propagate; a failing hook still answers.
    const handled: unknown = startHook(this.host.transportId, context, () =>
      this.dispatch(handler, message.data, context, connection, request, true),
    );
    if (handled instanceof Promise) {
      handled.catch((err: unknown) => {
        connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: err });
      });
    }
  }

  onEvent(connection: ServerConnection, message: EventMessage): void {
    const context = new MsRpcContext([connection.remoteAddress, message.pattern, 0, message.metadata ?? {}]);
    const packet = { pattern: message.pattern, data: message.data, metadata: message.metadata };
    this.host.handleEvent(message.pattern, packet, context).catch((err: Error) =>
      this.host.logger.error(`event handler for "${message.pattern}" failed: ${err?.message ?? err}`, err?.stack),
    );
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
  ): Promise<void> {
    let produced: Promise<unknown>;
    try {
      // Nest's proxies are async; a raw handler added with addHandler may return anything.
      produced = Promise.resolve(handler(data, context));
    } catch (err) {
      produced = Promise.reject(err);
    }
    return produced.then(
      (result) => this.answer(result, context, connection, request),
      (err: unknown) => {
        this.endProcessing(context);
        if (rethrow) throw err;
        connection.respond(request, { type: MessageType.Error, requestId: request.requestId, error: err });
      },
    );
  }

  private answer(result: unknown, context: MsRpcContext, connection: ServerConnection, request: InFlightRequest): void {
    if (isObservable(result)) {
      this.stream(result, context, connection, request);
      return;
    }
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
    if (!connection.isActive(request)) {
      // Cancelled (or the connection closed) before the handler produced its stream: never subscribe
      // it, or an endless stream would run unobserved forever. Nest's takeUntil would complete here.
      this.endProcessing(context);
      return;
    }
    const cancelled = new Subject<void>();
    request.onCancel = () => cancelled.next();
    this.host.send(
      response$.pipe(
        takeUntil(cancelled),
        finalize(() => this.endProcessing(context)),
      ),
      (packet: WritePacket) => this.writePacket(connection, request, packet),
    );
  }

  /** Runs the processing end hook (if any) for a request whose answer is settled. */
  private endProcessing(context: MsRpcContext): void {
    const hook = this.host.endHook();
    if (hook === undefined) return;
    try {
      hook(this.host.transportId, context);
    } catch (err) {
      this.host.logger.error(`processing end hook failed: ${(err as Error)?.message ?? err}`, (err as Error)?.stack);
    }
  }
}
