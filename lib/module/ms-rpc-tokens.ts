/** Injection token of the resolved {@link MsRpcModuleOptions}. */
export const MS_RPC_MODULE_OPTIONS = Symbol('MS_RPC_MODULE_OPTIONS');
/** Injection token of the shared Registry (null in direct mode). */
export const MS_RPC_REGISTRY = Symbol('MS_RPC_REGISTRY');
/** The ChannelCache, ReconnectWatchdog and RpcMetrics classes are their own tokens. */
