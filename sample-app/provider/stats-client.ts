import { MsRpcModule } from '../../lib/index.js';
import { rpcOptionsFromEnv, STATS_SERVICE_NAME } from '../common/rpc-options.js';

/** Injection token of the "math" providers' client of the "stats" service. */
export const STATS_SERVICE = 'STATS_SERVICE';

/**
 * The client a "math" handler calls "stats" with: Nacos mode discovers it; direct mode lists it
 * (STATS_PROVIDERS, comma-separated host:port).
 */
export const statsClient = MsRpcModule.registerClients([
  {
    name: STATS_SERVICE,
    service: STATS_SERVICE_NAME,
    providers: rpcOptionsFromEnv().nacos ? undefined : (process.env.STATS_PROVIDERS ?? '127.0.0.1:4102').split(','),
    timeout: 3000,
  },
]);
