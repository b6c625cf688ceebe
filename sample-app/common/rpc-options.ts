import type { MsRpcModuleOptions } from '../../lib/index.js';

/** Service name the providers register under and the gateway's client asks for. */
export const MATH_SERVICE_NAME = 'math';

/**
 * `MsRpcModule.forRoot()` options of both apps. With NACOS_SERVER set (e.g. '127.0.0.1:8848', a
 * comma-separated list for a cluster) it is Nacos mode: providers register, the gateway
 * discovers. Without it, direct mode: the gateway's client names the provider addresses itself.
 * NACOS_NAMESPACE, NACOS_USERNAME, NACOS_PASSWORD and NACOS_PROTOCOL (`grpc` | `http`) are optional.
 */
export function rpcOptionsFromEnv(): MsRpcModuleOptions {
  const serverList = process.env.NACOS_SERVER;
  if (!serverList) return {};
  return {
    nacos: {
      serverList,
      namespace: process.env.NACOS_NAMESPACE || 'public',
      username: process.env.NACOS_USERNAME || undefined,
      password: process.env.NACOS_PASSWORD || undefined,
      // gRPC (Nacos 2.0+, main port + 1000) unless NACOS_PROTOCOL=http (Nacos 1.x or the legacy adapter).
      protocol: process.env.NACOS_PROTOCOL === 'http' ? 'http' : 'grpc',
    },
  };
}

/** Service name of the sample's third service, which a "math" handler calls. */
export const STATS_SERVICE_NAME = 'stats';
