// Entry point of a partition provider run as a child process, usually inside a network namespace
// (`ip netns exec <ns> node --import <ts hooks> netns-provider-main.ts <name> <host>`, see
// netns-child.ts). The sources run through swc like under jest, so no build is needed first.
//
// Reports {type:'ready', port} over IPC once listening, {type:'error', message} if it cannot
// start, and exits when the IPC channel drops: a test process that dies leaves no provider behind.
import { startPartitionProvider, type PartitionProvider } from './netns-provider.js';

const [name = 'child', host = '0.0.0.0'] = process.argv.slice(2);
let provider: PartitionProvider | undefined;

const exit = (code: number) => {
  void (provider?.close() ?? Promise.resolve()).finally(() => process.exit(code));
  // A close stuck on a partitioned socket must not keep the child alive.
  setTimeout(() => process.exit(code), 1000).unref();
};

process.on('disconnect', () => exit(0));
process.on('SIGTERM', () => exit(0));

try {
  provider = await startPartitionProvider(name, host);
  process.send?.({ type: 'ready', port: provider.port });
} catch (err) {
  process.send?.({ type: 'error', message: (err as Error).stack ?? String(err) });
  exit(1);
}
