import { BadRequestException, Body, Controller, Get, HttpCode, Inject, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, Observable, toArray } from 'rxjs';
import { rpcToHttp } from './rpc-to-http.js';

/** Injection token of the gateway's client of the "math" service. */
export const MATH_SERVICE = 'MATH_SERVICE';

/** HTTP in front of the "math" providers, through the injected ClientProxy. */
@Controller()
export class MathController {
  constructor(@Inject(MATH_SERVICE) private readonly math: ClientProxy) {}

  /** GET /sum?numbers=1,2,3 → request/response. */
  @Get('sum')
  sum(@Query('numbers') numbers = ''): Promise<{ sum: number; servedBy: string }> {
    const values = numbers.split(',').filter((n) => n.trim() !== '').map(Number);
    if (values.some((n) => !Number.isFinite(n))) throw new BadRequestException('numbers: comma-separated numbers expected');
    return this.call(this.math.send('math.sum', values));
  }

  /** GET /countdown/3 → a streamed response, collected: { values: [3, 2, 1] }. */
  @Get('countdown/:n')
  async countdown(@Param('n', ParseIntPipe) n: number): Promise<{ values: number[] }> {
    if (n < 1 || n > 20) throw new BadRequestException('n: 1 to 20 expected');
    return { values: await this.call(this.math.send<number>('math.countdown', n).pipe(toArray())) };
  }

  /** POST /audit → an event (fire and forget): 202 once it is on the wire. */
  @Post('audit')
  @HttpCode(202)
  async audit(@Body() entry: Record<string, unknown>): Promise<{ accepted: true }> {
    try {
      await lastValueFrom(this.math.emit('math.audit', entry ?? {}), { defaultValue: undefined });
    } catch (err) {
      throw rpcToHttp(err);
    }
    return { accepted: true };
  }

  /** GET /divide?a=1&b=0 → the provider's RpcException becomes HTTP 400. */
  @Get('divide')
  divide(@Query('a') a: string, @Query('b') b: string): Promise<{ quotient: number; servedBy: string }> {
    const [x, y] = [Number(a), Number(b)];
    if (a === undefined || b === undefined || !Number.isFinite(x) || !Number.isFinite(y)) {
      throw new BadRequestException('a and b: numbers expected');
    }
    return this.call(this.math.send('math.divide', { a: x, b: y }));
  }

  private async call<T>(result$: Observable<T>): Promise<T> {
    try {
      return await firstValueFrom(result$);
    } catch (err) {
      throw rpcToHttp(err);
    }
  }
}
