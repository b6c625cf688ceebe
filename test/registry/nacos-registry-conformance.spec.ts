import { NacosGrpcTestServer, NacosTestServer } from '../../lib/testing/index.js';
import { registryConformance } from '../support/registry-conformance.js';

/** The same registry scenarios through both protocols, each against its protocol-faithful test server. */

registryConformance({
  protocol: 'http',
  async server(auth = {}) {
    const s = new NacosTestServer({ pushDelayMs: 20, cacheMillis: 300, clientBeatIntervalMs: 100, ...auth });
    await s.start();
    return { get address() { return s.address; }, start: (o) => s.start(o), stop: () => s.stop(), stored: (svc) => s.instances(svc) };
  },
  registryOptions: {},
  providerMetadata: { 'preserved.heart.beat.interval': '100' },
  behaviour: {
    reportsEmptyList: false,
    unknownServiceWhileDown: 'empty',
    closeRemovesInstances: false,
    timerOrigin: /node_modules\/(nacos|urllib|ko-sleep|sdk-base)|lib\/registry|lib\/common\/clock/,
  },
});

registryConformance({
  protocol: 'grpc',
  async server(auth = {}) {
    const s = new NacosGrpcTestServer({
      pushDelayMs: 20,
      subscribePushDelayMs: 50,
      auth: auth.username ? { username: auth.username, password: auth.password ?? '' } : undefined,
    });
    await s.start();
    return { get address() { return s.address; }, start: (o) => s.start(o), stop: () => s.stop(), stored: (svc) => s.instances(svc) };
  },
  registryOptions: { grpc: { healthCheckInterval: 300, healthCheckTimeout: 500, requestTimeout: 1500, redoInterval: 300, reconnectMaxDelay: 300 } },
  providerMetadata: {},
  behaviour: {
    reportsEmptyList: true,
    unknownServiceWhileDown: 'error',
    closeRemovesInstances: true,
    timerOrigin: /lib\/registry|lib\/common\/clock|@grpc\/grpc-js\/src\/(?!server)/,
  },
});
