import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { finalize, type Observable, tap } from 'rxjs';

/** What this interceptor reads of Express's request and response. */
interface Request {
  method: string;
  path: string;
  route?: { path?: string };
}
interface Response {
  statusCode: number;
  setHeader(name: string, value: string): void;
}

/**
 * A SERVER span per HTTP request, the root of the trace the RPC calls join; its trace id goes back
 * in the `x-trace-id` header (the demo prints that trace). A stand-in for
 * `@opentelemetry/instrumentation-http`, which a production app would register with NodeSDK
 * instead. Without a registered SDK the API's tracer is a no-op: no span, no header.
 */
@Injectable()
export class HttpTracingInterceptor implements NestInterceptor {
  private readonly tracer = trace.getTracer('sample-gateway');

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = ctx.switchToHttp().getRequest<Request>();
    const response = ctx.switchToHttp().getResponse<Response>();
    const span = this.tracer.startSpan(`${request.method} ${request.route?.path ?? request.path}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': request.method, 'url.path': request.path },
    });
    if (span.isRecording()) response.setHeader('x-trace-id', span.spanContext().traceId);
    // The handler (and the RPC calls it makes) runs in the span's context.
    return context.with(trace.setSpan(context.active(), span), () => next.handle()).pipe(
      tap({
        error: (err: Error) => {
          span.recordException(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        },
      }),
      finalize(() => {
        span.setAttribute('http.response.status_code', response.statusCode);
        span.end();
      }),
    );
  }
}
