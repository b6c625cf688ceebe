import { Module } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';
import { MsRpcClient, MsRpcClientOptions, Registry } from '../../lib/index.js';
import { MATH_SERVICE, MathClientService } from './math-client.service.js';

/**
 * Direct mode: provider addresses from SAMPLE_PROVIDERS (comma-separated host:port).
 * Nacos mode: pass a registry (see registry-from-env.ts) and the client discovers "math".
 */
export function mathClientOptions(registry?: Registry): Partial<MsRpcClientOptions> {
  if (registry) return { service: 'math', registry, timeout: 5000 };
  const providers = (process.env.SAMPLE_PROVIDERS ?? '127.0.0.1:4100').split(',').map((s) => s.trim());
  return { service: 'math', providers, timeout: 5000 };
}

@Module({})
export class ConsumerModule {
  static create(registry?: Registry) {
    return {
      module: ConsumerModule,
      imports: [
        ClientsModule.register([{ name: MATH_SERVICE, customClass: MsRpcClient, options: mathClientOptions(registry) }]),
      ],
      providers: [MathClientService],
    };
  }
}
