import { afterEach, describe, expect, it } from '@jest/globals';
import { NacosRegistry, type ServiceInstance } from '../../lib/registry/index.js';
import { NacosGrpcTestServer } from '../support/nacos-grpc/nacos-grpc-test-server.js';
import { recordingLogger, waitFor } from '../support/nacos-test-helpers.js';

describe('smoke', () => {
  let server: NacosGrpcTestServer | undefined;
  const regs: NacosRegistry[] = [];
  afterEach(async () => {
    await Promise.all(regs.splice(0).map((r) => r.close()));
    await server?.stop();
  });
  it('registers and subscribes', async () => {
    server = new NacosGrpcTestServer({ pushDelayMs: 20 });
    await server.start();
    const logger = recordingLogger();
    const p = new NacosRegistry({ serverList: [server.address], logger });
    const c = new NacosRegistry({ serverList: [server.address], logger });
    regs.push(p, c);
    await p.register({ service: 'orders', host: '127.0.0.1', port: 4001 });
    expect(server.instances('orders')).toHaveLength(1);
    const calls: ServiceInstance[][] = [];
    await c.subscribe('orders', (l) => calls.push(l));
    expect(calls[0].map((i) => i.port)).toEqual([4001]);
    await p.register({ service: 'orders', host: '127.0.0.1', port: 4002 });
    await waitFor(() => calls.at(-1)?.length === 2, 3000);
    await p.close();
    await waitFor(() => calls.at(-1)?.length === 0, 3000);
    console.log(logger.lines.map((l) => l.level + ' ' + l.message).join('\n'));
    console.log(server.transcript.map((e) => `${e.direction} ${e.channel} ${e.payload.type} ${JSON.stringify(e.payload.body)}`).join('\n'));
  });
});
