import { Module } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';
import { MsRpcClient } from '../../lib/index.js';
import { MATH_SERVICE, MathClientService } from './math-client.service.js';

/** Direct mode: the provider address comes from SAMPLE_PROVIDERS (comma-separated host:port). */
const providers = (process.env.SAMPLE_PROVIDERS ?? '127.0.0.1:4100').split(',').map((s) => s.trim());

@Module({
  imports: [
    ClientsModule.register([
      { name: MATH_SERVICE, customClass: MsRpcClient, options: { service: 'math', providers, timeout: 5000 } },
    ]),
  ],
  providers: [MathClientService],
})
export class ConsumerModule {}
