import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { MsRpcHealthModule } from '../../lib/health/index.js';
import { MS_RPC_REGISTRY, MsRpcClient, MsRpcModule, type Registry } from '../../lib/index.js';
import { MATH_SERVICE_NAME, rpcOptionsFromEnv } from '../common/rpc-options.js';
import { HttpTracingInterceptor } from './http-tracing.interceptor.js';
import { MATH_SERVICE, MathController } from './math.controller.js';
import { MeanController } from './mean.controller.js';
import { OpsController } from './ops.controller.js';

const rpc = rpcOptionsFromEnv();

/**
 * The client of "math": Nacos mode discovers the providers; direct mode lists them
 * (MATH_PROVIDERS, comma-separated host:port). Kept in a constant because the health module
 * imports it too: one module object, one client.
 */
const mathClient = MsRpcModule.registerClients([
  {
    name: MATH_SERVICE,
    service: MATH_SERVICE_NAME,
    providers: rpc.nacos ? undefined : (process.env.MATH_PROVIDERS ?? '127.0.0.1:4100,127.0.0.1:4101').split(','),
    balancer: { strategy: 'round-robin' },
    timeout: 3000,
  },
]);

@Module({
  imports: [
    MsRpcModule.forRoot(rpc),
    mathClient,
    TerminusModule,
    MsRpcHealthModule.forRootAsync({
      imports: [mathClient],
      inject: [MATH_SERVICE, MS_RPC_REGISTRY],
      // The registry is null in direct mode; in Nacos mode its reachability is reported too.
      useFactory: (math: MsRpcClient, registry: Registry | null) => ({ sources: [math], registry: registry ?? undefined }),
    }),
  ],
  controllers: [MathController, MeanController, OpsController],
  providers: [{ provide: APP_INTERCEPTOR, useClass: HttpTracingInterceptor }],
})
export class GatewayModule {}
