import { Module } from '@nestjs/common';
import { MsRpcModule } from '../../lib/index.js';
import { rpcOptionsFromEnv } from '../common/rpc-options.js';
import { MathController, PROVIDER_NAME } from './math.controller.js';
import { MeanController } from './mean.controller.js';
import { statsClient } from './stats-client.js';

@Module({
  imports: [MsRpcModule.forRoot(rpcOptionsFromEnv()), statsClient],
  controllers: [MathController, MeanController],
  providers: [{ provide: PROVIDER_NAME, useValue: process.env.PROVIDER_NAME ?? `math-${process.pid}` }],
})
export class ProviderModule {}
