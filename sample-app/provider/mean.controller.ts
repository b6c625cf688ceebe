import { Controller, Inject } from '@nestjs/common';
import { ClientProxy, MessagePattern, Payload } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { PROVIDER_NAME } from './math.controller.js';
import { STATS_SERVICE } from './stats-client.js';

/** A "math" handler that calls another service: the middle hop of gateway → math → stats. */
@Controller()
export class MeanController {
  constructor(
    @Inject(PROVIDER_NAME) private readonly name: string,
    @Inject(STATS_SERVICE) private readonly stats: ClientProxy,
  ) {}

  /**
   * No deadline or trace is passed along by hand: the call below inherits what is left of the
   * caller's budget (its client's 3 s timeout applies only if that is shorter), is cancelled if the
   * caller gives up, and, with tracing on, is a child of this handler's span.
   */
  @MessagePattern('math.mean')
  async mean(@Payload() numbers: number[]): Promise<{ mean: number; min: number; max: number; servedBy: string }> {
    const { count, min, max } = await firstValueFrom(this.stats.send<{ count: number; min: number; max: number }>('stats.summary', numbers));
    return { mean: numbers.reduce((a, b) => a + b, 0) / count, min, max, servedBy: this.name };
  }
}
