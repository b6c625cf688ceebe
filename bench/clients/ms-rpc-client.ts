import { lastValueFrom } from 'rxjs';
import { MsRpcClient, type MsRpcLogger } from '../../lib/index.js';
import { setUpTracing, type BenchTracing } from '../tracing-setup.js';
import type { Codec } from '../workloads.js';
import type { EchoClient } from './echo-client.js';

/** Connection state changes are noise in a benchmark; problems still reach stderr. */
const quietLogger: MsRpcLogger = {
  log: () => undefined,
  debug: () => undefined,
  warn: (m) => console.warn(`[ms-rpc] ${m}`),
  error: (m, stack) => console.error(`[ms-rpc] ${m}${stack ? `\n${stack}` : ''}`),
};

/**
 * This project's client, through its public API only: `lastValueFrom(client.send())` as a Nest
 * application calls any ClientProxy, or with `api: 'call'` the Promise fast path. `tracing`: see
 * tracing-setup.ts.
 */
export async function createMsRpcClient(
  port: number,
  codec: Codec,
  api: 'send' | 'call' = 'send',
  tracing: BenchTracing = 'off',
): Promise<EchoClient> {
  const client = new MsRpcClient({
    providers: [`127.0.0.1:${port}`],
    codec,
    logger: quietLogger,
    tracing: await setUpTracing(tracing),
  });
  return {
    connect: async () => {
      await client.connect();
    },
    echo: api === 'call' ? (payload) => client.call('echo', payload) : (payload) => lastValueFrom(client.send('echo', payload)),
    close: async () => {
      await client.close();
    },
  };
}
