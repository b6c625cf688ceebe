import { Module } from '@nestjs/common';
import { MsRpcModule } from '../../lib/index.js';
import { rpcOptionsFromEnv } from '../common/rpc-options.js';
import { StatsController } from './stats.controller.js';

@Module({
  imports: [MsRpcModule.forRoot(rpcOptionsFromEnv())],
  controllers: [StatsController],
})
export class StatsModule {}
