import { AsyncLocalStorage } from 'node:async_hooks';

/** A client call made inside a handler's scope, cancelled with it (ClientCall implements it). */
export interface ScopedCall {
  /** The handler that made this call was told to stop, for `reason`. */
  parentAborted(reason: Error): void;
}

/**
 * What a running server handler offers the client calls it makes (HandlerRun implements it): its
 * caller's remaining time budget, and cancellation. See {@link callScopes}.
 */
export interface CallScope {
  /** The pattern the handler serves (named in the errors of the calls it makes). */
  readonly pattern: string;
  /** Ms left of the caller's budget (<= 0 once spent); undefined when the caller sent none. */
  remainingMs(): number | undefined;
  /** Why the handler was told to stop, once it was (a cancel, a lost connection, its deadline). */
  readonly abortReason: Error | undefined;
  /** `call` is cancelled when the handler is told to stop; until {@link release}. */
  adopt(call: ScopedCall): void;
  release(call: ScopedCall): void;
}

/**
 * The handler a piece of code runs for, across its awaits: the server enters it once per handler
 * invocation, and a client call made meanwhile (same async context) reads it, with no parameter to
 * pass along (as gRPC-Go's Context or gRPC-Java's Context.current()).
 *
 * An AsyncLocalStorage costs every promise of the process something once it is in use (Node 20
 * tracks it with async hooks: about 1 us per request of a Nest server, measured). So the server
 * enters a scope only once a client that inherits deadlines was built in the process: a service
 * that calls no other service (or whose clients all opt out) pays nothing. A client built later
 * than a handler started does not see that handler.
 */
export class CallScopes {
  private readonly storage = new AsyncLocalStorage<CallScope>();
  private wanted = false;

  /** A client that inherits deadlines exists: handlers run in their scope from now on. */
  want(): void {
    this.wanted = true;
  }

  /** Handlers run in their scope (some client wants it). */
  get active(): boolean {
    return this.wanted;
  }

  /** Runs `fn` in `scope` (as it is, while no client wants scopes). */
  run<R>(scope: CallScope, fn: () => R): R {
    return this.wanted ? this.storage.run(scope, fn) : fn();
  }

  /** The scope of the handler running now, if any. */
  current(): CallScope | undefined {
    return this.storage.getStore();
  }
}

/**
 * Module-level by nature: an async context belongs to the process, not to a server or a client,
 * and the server that enters it and the client that reads it are separate instances that must
 * meet here. It holds no state of its own beyond the flag: each scope is the handler's run,
 * dropped with it.
 */
export const callScopes = new CallScopes();
