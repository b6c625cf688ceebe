import { checkInteger, checkOptionsObject } from '../common/option-checks.js';
import { CONNECTION_OPTION_KEYS, ConnectionOptions, resolveConnectionOptions } from '../connection/connection-options.js';
import { PROTOCOL_OPTION_KEYS, ProtocolOptions, resolveProtocolOptions } from '../protocol/protocol-options.js';

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

export const CHANNEL_OPTION_KEYS: readonly string[] = [...PROTOCOL_OPTION_KEYS, ...CONNECTION_OPTION_KEYS, 'connectionsPerProvider'];

/** Fills defaults and validates once; unknown keys included. `prefix` names the path in errors. */
export function resolveChannelOptions(partial: Partial<ChannelOptions> = {}, prefix = 'channel'): ChannelOptions {
  checkOptionsObject(prefix, partial, CHANNEL_OPTION_KEYS);
  const connectionsPerProvider = partial.connectionsPerProvider ?? 1;
  checkInteger(`${prefix}.connectionsPerProvider`, connectionsPerProvider, 1, 64);
  return {
    ...resolveProtocolOptions(partial, prefix),
    ...resolveConnectionOptions(partial, prefix),
    connectionsPerProvider,
  };
}
