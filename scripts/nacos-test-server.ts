/**
 * Runs the Nacos test servers of `nestjs-ms-rpc/testing` by hand, for local demos without a real Nacos:
 *
 *   node dist/scripts/nacos-test-server.js [port]        (or NACOS_TEST_PORT; default 8848)
 *
 * Starts both protocols on one address, as a Nacos 2.x server serves them: the v1 HTTP naming API
 * (and the login) on `port`, the native gRPC API on `port + 1000`. A client configured with
 * `serverList: '127.0.0.1:<port>'` works with `protocol: 'grpc'` (default) and `'http'`; the two
 * keep separate instance stores. Optional env: NACOS_TEST_USERNAME / NACOS_TEST_PASSWORD turn
 * auth on for both. It listens on 127.0.0.1 only and keeps everything in memory; it is a protocol
 * stand-in, not Nacos.
 */
import { startNacosTestServers } from '../lib/testing/index.js';

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 8848;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 64535) {
    console.error(`nacos-test-server: invalid port ${JSON.stringify(raw)} (1..64535: the gRPC port is port + 1000)`);
    process.exit(2);
  }
  return port;
}

async function main(): Promise<void> {
  const port = parsePort(process.argv[2] ?? process.env.NACOS_TEST_PORT);
  const username = process.env.NACOS_TEST_USERNAME || undefined;
  const password = username ? (process.env.NACOS_TEST_PASSWORD ?? '') : undefined;
  const servers = await startNacosTestServers({ port, username, password });
  console.log(
    `nacos-test-server: HTTP (v1 API, login) on http://${servers.http.address}/nacos, gRPC on 127.0.0.1:${servers.grpc.grpcPort}` +
      ` (serverList: '${servers.serverList}')${username ? ' with auth' : ''}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`nacos-test-server: ${signal}, stopping`);
    servers.stop().then(
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
