import { Controller, Logger } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { MsRpcContext } from '../../lib/index.js';

/** The "stats" service: called by a "math" handler, never by the gateway itself. */
@Controller()
export class StatsController {
  private readonly logger = new Logger('StatsController');

  /**
   * The innermost handler of the sample's chain (gateway → math → stats): what is left here of the
   * budget the gateway set is what the gateway gave, minus the time spent on the way and the margin
   * each hop keeps to answer (`deadlineMargin`).
   */
  @MessagePattern('stats.summary')
  summary(@Payload() numbers: number[], @Ctx() ctx: MsRpcContext): { count: number; min: number; max: number } {
    const left = ctx.remainingMs();
    this.logger.log(`stats.summary: ${left === undefined ? 'no deadline' : `${left.toFixed(1)} ms left of the caller's budget`}`);
    return { count: numbers.length, min: Math.min(...numbers), max: Math.max(...numbers) };
  }
}
