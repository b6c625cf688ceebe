// Types only, in no exported signature: this library's declarations must not need the API.
import type { Attributes, Context, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import type { Metadata } from '../protocol/message.js';
import { errorType, exceptionOf, splitAddress, type RecordedException } from './span-attributes.js';

/** `@opentelemetry/api`, loaded on demand (an optional peer dependency). */
type OtelApi = typeof import('@opentelemetry/api');

/** `rpc.system` of every span this library makes. */
export const RPC_SYSTEM = 'nestjs-ms-rpc';
/** The instrumentation scope (tracer name). */
const TRACER_NAME = 'nestjs-ms-rpc';

// SpanKind and SpanStatusCode values (stable in the API), so that no value is read from a module
// that may be absent.
const KIND_SERVER = 1;
const KIND_CLIENT = 2;
const KIND_PRODUCER = 3;
const KIND_CONSUMER = 4;
const STATUS_ERROR = 2;

/** Where a server listens (read only when a span is made). */
export interface LocalAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * What this library does with an OpenTelemetry span (an API `Span` is one), typed here so that the
 * library's declarations compile without `@opentelemetry/api` installed.
 */
export interface RpcSpan {
  setAttribute(key: string, value: string | number): unknown;
  setAttributes(attributes: Record<string, string | number>): unknown;
  addEvent(name: string, attributes?: Record<string, string>): unknown;
  recordException(exception: RecordedException): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** A handler's span and the context it runs in (the server span over the caller's context). */
export interface IncomingSpan {
  readonly span: RpcSpan;
  /** An OpenTelemetry Context. */
  readonly context: unknown;
}

/**
 * OpenTelemetry spans for one client or server, following the RPC semantic conventions
 * (`rpc.system`, `rpc.service`, `rpc.method` = pattern, `server.*` / `network.peer.*`, status and
 * recorded exceptions), with the W3C trace context in the packet metadata (through the registered
 * propagator: NodeSDK and `NodeTracerProvider.register()` install W3C trace context and baggage).
 *
 * `@opentelemetry/api` is loaded with a dynamic import when the owner is built with tracing on;
 * when it is not installed, nothing happens. Until a tracer provider (an SDK) is registered, the
 * API's tracer is a no-op: {@link tracer} then answers undefined, and a call costs one check, no
 * span object, no metadata copy. The provider is read for each call: an SDK registered after the
 * client was built (or replaced in tests) takes effect at once.
 */
export class RpcTracing {
  private api: OtelApi | undefined = undefined;
  /** The API's no-op provider: what the global one delegates to while no SDK is registered. */
  private noopProvider: TracerProvider | undefined = undefined;
  private lastProvider: TracerProvider | undefined = undefined;
  private lastTracer: Tracer | undefined = undefined;
  /** Settles once the API is loaded, or known to be absent. */
  readonly ready: Promise<void>;

  constructor(
    /** `rpc.service` of the spans: the client's service, or the server's. */
    private readonly service: string,
  ) {
    this.ready = import('@opentelemetry/api').then(
      (api) => {
        this.api = api;
        this.noopProvider = new api.ProxyTracerProvider().getDelegate();
      },
      // Not installed: tracing stays off. Nothing to report, since no SDK can be registered without it.
      () => undefined,
    );
  }

  /** An SDK is registered: calls and handlers get spans (false while the API is absent or loading). */
  get active(): boolean {
    return this.tracer() !== undefined;
  }

  /** The tracer of the registered SDK, or undefined (API absent, not loaded yet, no SDK). */
  private tracer(): Tracer | undefined {
    const api = this.api;
    if (api === undefined) return undefined;
    let provider: TracerProvider = api.trace.getTracerProvider();
    if (provider instanceof api.ProxyTracerProvider) provider = provider.getDelegate();
    if (provider === this.noopProvider) return undefined;
    if (provider !== this.lastProvider) {
      this.lastProvider = provider;
      this.lastTracer = provider.getTracer(TRACER_NAME);
    }
    return this.lastTracer;
  }

  /**
   * The CLIENT span of a call (PRODUCER for an event), a child of the active context; undefined
   * when not tracing.
   */
  startOutgoing(pattern: string, event: boolean): RpcSpan | undefined {
    const tracer = this.tracer();
    if (tracer === undefined) return undefined;
    return tracer.startSpan(
      `${this.service}/${pattern}`,
      { kind: event ? KIND_PRODUCER : KIND_CLIENT, attributes: this.rpcAttributes(pattern) },
      this.api!.context.active(),
    );
  }

  /** `metadata` plus `span`'s trace context (`traceparent`, `tracestate`, baggage): a new map. */
  inject(span: RpcSpan, metadata: Metadata | undefined): Metadata {
    const api = this.api!;
    const carrier: Metadata = { ...metadata };
    api.propagation.inject(api.trace.setSpan(api.context.active(), span as Span), carrier);
    return carrier;
  }

  /** The provider a call was sent to. */
  setPeer(span: RpcSpan, host: string, port: number): void {
    span.setAttributes({
      'server.address': host,
      'server.port': port,
      'network.peer.address': host,
      'network.peer.port': port,
    });
  }

  /**
   * The SERVER span of a request (CONSUMER for an event), a child of the caller's span when its
   * metadata carries a trace context; undefined when not tracing.
   */
  startIncoming(
    pattern: string,
    event: boolean,
    metadata: Metadata | undefined,
    remoteAddress: string,
    local: LocalAddress,
  ): IncomingSpan | undefined {
    const tracer = this.tracer();
    if (tracer === undefined) return undefined;
    const api = this.api!;
    const parent = metadata === undefined ? api.ROOT_CONTEXT : api.propagation.extract(api.ROOT_CONTEXT, metadata);
    const attributes = this.rpcAttributes(pattern);
    const [peerHost, peerPort] = splitAddress(remoteAddress);
    attributes['server.address'] = local.host;
    attributes['server.port'] = local.port;
    attributes['client.address'] = peerHost;
    attributes['network.peer.address'] = peerHost;
    if (peerPort !== undefined) {
      attributes['client.port'] = peerPort;
      attributes['network.peer.port'] = peerPort;
    }
    const span = tracer.startSpan(
      `${this.service}/${pattern}`,
      { kind: event ? KIND_CONSUMER : KIND_SERVER, attributes },
      parent,
    );
    return { span, context: api.trace.setSpan(parent, span) };
  }

  /** Runs `fn` with `incoming`'s context active: what the handler does is part of its span. */
  within<A extends unknown[], R>(incoming: IncomingSpan, fn: (...args: A) => R, ...args: A): R {
    return this.api!.context.with(incoming.context as Context, fn, undefined, ...args);
  }

  private rpcAttributes(pattern: string): Attributes {
    return {
      'rpc.system': RPC_SYSTEM,
      'rpc.service': this.service,
      'rpc.method': pattern,
      'network.transport': 'tcp',
    };
  }
}

/** Ends `span`, as failed with `error` if given (the exception recorded, status ERROR, `error.type`). */
export function endSpan(span: RpcSpan, error?: unknown): void {
  if (error !== undefined) fail(span, error);
  span.end();
}

/**
 * Ends the span of a cancelled call: the reason as an event. An error on the caller's side (as
 * gRPC's CANCELLED on a client span), not on the server's, where the caller going away is no
 * fault of the handler's.
 */
export function endCancelledSpan(span: RpcSpan, why: string, isError: boolean): void {
  span.addEvent('cancelled', { reason: why });
  if (isError) {
    span.setAttribute('error.type', 'cancelled');
    span.setStatus({ code: STATUS_ERROR, message: why });
  }
  span.end();
}

function fail(span: RpcSpan, error: unknown): void {
  const exception = exceptionOf(error);
  span.recordException(exception);
  span.setAttribute('error.type', errorType(error));
  span.setStatus({ code: STATUS_ERROR, message: exception.message });
}
