import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { MsRpcRecordBuilder } from '../../lib/index.js';
import { MATH_SERVICE } from './math.controller.js';
import { rpcToHttp } from './rpc-to-http.js';

/** Deadline of the gateway's call to math.mean: what every hop behind it shares. */
const MEAN_DEADLINE_MS = 800;

/** A call that crosses two services: gateway → math (math.mean) → stats (stats.summary). */
@Controller()
export class MeanController {
  constructor(@Inject(MATH_SERVICE) private readonly math: ClientProxy) {}

  /** GET /mean?numbers=2,4,9 → { mean, min, max, servedBy }, within 800 ms end to end. */
  @Get('mean')
  async mean(@Query('numbers') numbers = ''): Promise<unknown> {
    const values = numbers.split(',').filter((n) => n.trim() !== '').map(Number);
    if (values.length === 0 || values.some((n) => !Number.isFinite(n))) {
      throw new BadRequestException('numbers: comma-separated numbers expected');
    }
    try {
      // The budget travels with the request: math's call to stats gets what is left of it.
      return await firstValueFrom(this.math.send('math.mean', new MsRpcRecordBuilder(values).setTimeout(MEAN_DEADLINE_MS).build()));
    } catch (err) {
      throw rpcToHttp(err);
    }
  }
}
