/**
 * A process that registers one instance in Nacos over gRPC and then does nothing, so a test can
 * SIGKILL it (its TCP connections close at once) or SIGSTOP it (a silent client: connections stay
 * open, nothing is answered). argv: [serverList, service, registry options JSON]. Reports
 * `{type:'ready', port}` over IPC (port = the listening socket it registered) and exits when the
 * IPC channel drops.
 */
import net, { type AddressInfo } from 'node:net';
import { NacosRegistry } from '../../lib/registry/index.js';

const [serverList, service, optionsJson] = process.argv.slice(2);
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function main(): Promise<void> {
  const listener = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as AddressInfo).port;
  const registry = new NacosRegistry({ serverList, logger: quiet, ...JSON.parse(optionsJson || '{}') });
  await registry.register({ service, host: '127.0.0.1', port });
  process.send?.({ type: 'ready', port });
  process.on('disconnect', () => process.exit(0));
}

main().catch((err: unknown) => {
  process.send?.({ type: 'error', message: String(err) });
  process.exit(1);
});
