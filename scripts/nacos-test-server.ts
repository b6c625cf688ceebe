/**
 * Runs the project's Nacos test server by hand, for local demos without a real Nacos:
 *
 *   node dist/scripts/nacos-test-server.js [port]        (or NACOS_TEST_PORT; default 8848)
 *
 * Optional env: NACOS_TEST_USERNAME / NACOS_TEST_PASSWORD turn auth on. It listens on 127.0.0.1
 * only and keeps everything in memory; it is a protocol stand-in for the v1 naming API, not Nacos.
 */
import { NacosTestServer } from '../test/support/nacos-test-server.js';

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 8848;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`nacos-test-server: invalid port ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}

async function main(): Promise<void> {
  const port = parsePort(process.argv[2] ?? process.env.NACOS_TEST_PORT);
  const username = process.env.NACOS_TEST_USERNAME || undefined;
  const password = process.env.NACOS_TEST_PASSWORD || undefined;
  const server = new NacosTestServer({ port, username, password: username ? (password ?? '') : undefined });
  await server.start();
  console.log(`nacos-test-server listening on http://${server.address}/nacos (serverList: '${server.address}')${username ? ' with auth' : ''}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`nacos-test-server: ${signal}, stopping`);
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('nacos-test-server failed to start:', err);
  process.exit(1);
});
