import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { interval, map, take } from 'rxjs';
import { MsRpcContext } from '../../lib/index.js';

/** Injection token of this provider instance's name (answers say who served them). */
export const PROVIDER_NAME = 'PROVIDER_NAME';

/** The provider's handlers: one of each kind the transport serves. */
@Controller()
export class MathController {
  private readonly logger = new Logger('MathController');

  constructor(@Inject(PROVIDER_NAME) private readonly name: string) {}

  @MessagePattern('math.sum')
  sum(@Payload() numbers: number[]): { sum: number; servedBy: string } {
    return { sum: numbers.reduce((a, b) => a + b, 0), servedBy: this.name };
  }

  /** A streamed response: each value is its own frame, then the stream completes. */
  @MessagePattern('math.countdown')
  countdown(@Payload() from: number) {
    return interval(100).pipe(
      take(from),
      map((i) => from - i),
    );
  }

  @MessagePattern('math.divide')
  divide(@Payload() { a, b }: { a: number; b: number }): { quotient: number; servedBy: string } {
    if (b === 0) throw new RpcException({ code: 'DIVISION_BY_ZERO', message: `cannot divide ${a} by zero` });
    return { quotient: a / b, servedBy: this.name };
  }

  /** An event: no answer; the caller's metadata (trace id...) arrives in the context. */
  @EventPattern<string>('math.audit')
  audit(@Payload() entry: Record<string, unknown>, @Ctx() ctx: MsRpcContext): void {
    this.logger.log(`audit event from ${ctx.getRemoteAddress()}: ${JSON.stringify(entry)}`);
  }
}
