import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ChannelCache } from '../channel/channel-cache.js';
import { ReconnectWatchdog } from '../channel/reconnect-watchdog.js';
import { boundedLogger, type MsRpcLogger } from '../common/logger.js';
import { systemClock } from '../common/clock.js';
import type { Registry } from '../registry/registry.js';
import { withRegistryTimeout } from '../registry/registry-timeout.js';
// `import type`: with decorator metadata, a value import of an interface used as a constructor
// parameter type survives transpilers that compile file by file (swc, esbuild) and fails to link.
import type { ResolvedMsRpcModuleOptions } from './ms-rpc-module-options.js';
import { MS_RPC_MODULE_OPTIONS, MS_RPC_REGISTRY } from './ms-rpc-tokens.js';

/**
 * Closes the shared layers on shutdown. Nest runs shutdown hooks after microservices closed
 * (servers deregistered and drained), so the registry closes last, as it must.
 */
@Injectable()
export class MsRpcLifecycle implements OnApplicationShutdown {
  private readonly logger: MsRpcLogger;

  constructor(
    @Inject(MS_RPC_MODULE_OPTIONS) private readonly options: ResolvedMsRpcModuleOptions,
    @Inject(MS_RPC_REGISTRY) private readonly registry: Registry | null,
    private readonly watchdog: ReconnectWatchdog,
    private readonly channels: ChannelCache,
  ) {
    this.logger = boundedLogger(options.logger ?? new Logger('MsRpc'));
  }

  async onApplicationShutdown(): Promise<void> {
    this.watchdog.close();
    this.channels.close('application shutdown');
    // A registry passed in by the app is the app's to close; one built from `nacos` is ours.
    if (!this.registry || this.options.registry) return;
    const registry = this.registry;
    try {
      await withRegistryTimeout(registry.close(), `close ${registry.kind} registry`, this.options.registryTimeout, systemClock);
    } catch (err) {
      this.logger.error(`closing the ${registry.kind} registry failed: ${(err as Error).message}`);
    }
  }
}
