import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ChannelCache } from '../channel/channel-cache.js';
import { ReconnectWatchdog } from '../channel/reconnect-watchdog.js';
import type { Registry } from '../registry/registry.js';
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
  constructor(
    @Inject(MS_RPC_MODULE_OPTIONS) private readonly options: ResolvedMsRpcModuleOptions,
    @Inject(MS_RPC_REGISTRY) private readonly registry: Registry | null,
    private readonly watchdog: ReconnectWatchdog,
    private readonly channels: ChannelCache,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    this.watchdog.close();
    this.channels.close('application shutdown');
    // A registry passed in by the app is the app's to close; one built from `nacos` is ours.
    if (this.registry && !this.options.registry) await this.registry.close();
  }
}
