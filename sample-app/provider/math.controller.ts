import { Controller, Logger } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { interval, map, take } from 'rxjs';
import { MsRpcContext } from '../../lib/index.js';

/** The provider's handlers: one of each kind the transport serves. */
@Controller()
export class MathController {
  private readonly logger = new Logger('Provider');

  @MessagePattern('math.sum')
  sum(@Payload() numbers: number[], @Ctx() ctx: MsRpcContext): number {
    this.logger.log(`math.sum(${JSON.stringify(numbers)}) from ${ctx.getRemoteAddress()} [request ${ctx.getRequestId()}]`);
    return numbers.reduce((a, b) => a + b, 0);
  }

  /** A streamed response: each value is its own frame, then the stream completes. */
  @MessagePattern('math.countdown')
  countdown(@Payload() from: number) {
    this.logger.log(`math.countdown(${from}): streaming ${from} values`);
    return interval(100).pipe(
      take(from),
      map((i) => from - i),
    );
  }

  @MessagePattern('math.divide')
  divide(@Payload() { a, b }: { a: number; b: number }): number {
    if (b === 0) throw new RpcException({ code: 'DIVISION_BY_ZERO', message: `cannot divide ${a} by zero` });
    return a / b;
  }

  @EventPattern<string>('math.audit')
  audit(@Payload() entry: { user: string; action: string }, @Ctx() ctx: MsRpcContext): void {
    this.logger.log(`event math.audit: ${entry.user} did ${entry.action} (trace ${ctx.getMetadata().traceId ?? '-'})`);
  }
}
