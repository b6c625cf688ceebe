import { checkInteger } from '../common/option-checks.js';
import { ConnectionOptions, resolveConnectionOptions } from '../connection/connection-options.js';
import { ProtocolOptions, resolveProtocolOptions } from '../protocol/protocol-options.js';

/**
 * What every connection in one channel cache shares: wire settings, liveness settings and how
 * many connections each provider gets. Clients that share a cache (through MsRpcModule) share these.
 */
export interface ChannelOptions extends ProtocolOptions, ConnectionOptions {
  /**
   * Long-lived connections kept per provider address.
   * @default 1
   */
  connectionsPerProvider: number;
}

export function resolveChannelOptions(partial: Partial<ChannelOptions> = {}, prefix = 'channel'): ChannelOptions {
  const connectionsPerProvider = partial.connectionsPerProvider ?? 1;
  checkInteger(`${prefix}.connectionsPerProvider`, connectionsPerProvider, 1, 64);
  return {
    ...resolveProtocolOptions(partial, prefix),
    ...resolveConnectionOptions(partial, prefix),
    connectionsPerProvider,
  };
}
