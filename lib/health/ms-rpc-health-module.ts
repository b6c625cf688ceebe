import { Module, type DynamicModule, type ModuleMetadata } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MS_RPC_HEALTH_OPTIONS, type MsRpcHealthOptions } from './health-options.js';
import { MsRpcHealthIndicator } from './ms-rpc-health-indicator.js';

/** `forRootAsync()` input: typically injects the clients (e.g. `ClientsModule` tokens) and the registry. */
export interface MsRpcHealthAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => Partial<MsRpcHealthOptions> | Promise<Partial<MsRpcHealthOptions>>;
}

/**
 * Provides and exports {@link MsRpcHealthIndicator}. Imports Terminus' `TerminusModule` for the
 * `HealthIndicatorService`; the application still imports `TerminusModule` (or `forRoot()`) itself
 * for `HealthCheckService` in its health controller. Providing the indicator by hand works too:
 * `providers: [MsRpcHealthIndicator, { provide: MS_RPC_HEALTH_OPTIONS, useValue: {...} }]` in a
 * module that imports `TerminusModule`.
 */
@Module({})
export class MsRpcHealthModule {
  static forRoot(options: Partial<MsRpcHealthOptions> = {}): DynamicModule {
    return {
      module: MsRpcHealthModule,
      imports: [TerminusModule],
      providers: [{ provide: MS_RPC_HEALTH_OPTIONS, useValue: options }, MsRpcHealthIndicator],
      exports: [MsRpcHealthIndicator],
    };
  }

  static forRootAsync(options: MsRpcHealthAsyncOptions): DynamicModule {
    return {
      module: MsRpcHealthModule,
      imports: [TerminusModule, ...(options.imports ?? [])],
      providers: [
        { provide: MS_RPC_HEALTH_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        MsRpcHealthIndicator,
      ],
      exports: [MsRpcHealthIndicator],
    };
  }
}
