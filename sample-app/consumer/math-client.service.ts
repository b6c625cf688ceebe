import { Inject, Injectable, Logger } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, tap, toArray } from 'rxjs';

export const MATH_SERVICE = 'MATH_SERVICE';

/** Calls the provider through an injected ClientProxy, the way an app would. */
@Injectable()
export class MathClientService {
  private readonly logger = new Logger('Consumer');

  constructor(@Inject(MATH_SERVICE) private readonly math: ClientProxy) {}

  async runDemo(): Promise<void> {
    await this.math.connect();
    this.logger.log('connected to the provider');

    const sum = await firstValueFrom(this.math.send<number>('math.sum', [1, 2, 3, 4]));
    this.logger.log(`request/response: math.sum([1,2,3,4]) = ${sum}`);

    const values = await lastValueFrom(
      this.math.send<number>('math.countdown', 3).pipe(
        tap((v) => this.logger.log(`stream: math.countdown value ${v}`)),
        toArray(),
      ),
    );
    this.logger.log(`stream completed with ${values.length} values: ${values.join(', ')}`);

    this.math.setOnDispatchHook((packet) => {
      packet.metadata = { traceId: 'demo-trace-1' };
    });
    await lastValueFrom(this.math.emit('math.audit', { user: 'alice', action: 'login' }), { defaultValue: undefined });
    this.logger.log('event: math.audit emitted (see the provider log)');

    try {
      await firstValueFrom(this.math.send<number>('math.divide', { a: 1, b: 0 }));
    } catch (err) {
      this.logger.log(`error: math.divide(1, 0) failed as expected with ${JSON.stringify(err)}`);
    }
  }
}
