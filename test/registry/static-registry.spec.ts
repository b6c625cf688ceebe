import { describe, expect, it } from '@jest/globals';
import { InvalidOptionsError } from '../../lib/errors/index.js';
import { StaticRegistry, type ServiceInstance } from '../../lib/registry/index.js';
import { recordingLogger } from '../support/nacos-test-helpers.js';

describe('StaticRegistry', () => {
  it('reports the configured list for any service name', async () => {
    const registry = new StaticRegistry(['127.0.0.1:4000', { host: 'localhost', port: 4001, weight: 3, metadata: { zone: 'a' } }, '[::1]:4002']);
    expect(registry.kind).toBe('static');
    const expected: ServiceInstance[] = [
      { id: '127.0.0.1:4000', host: '127.0.0.1', port: 4000, weight: 1, healthy: true, enabled: true, cluster: 'DEFAULT', metadata: {} },
      { id: 'localhost:4001', host: 'localhost', port: 4001, weight: 3, healthy: true, enabled: true, cluster: 'DEFAULT', metadata: { zone: 'a' } },
      { id: '::1:4002', host: '::1', port: 4002, weight: 1, healthy: true, enabled: true, cluster: 'DEFAULT', metadata: {} },
    ];
    expect(await registry.getInstances('orders')).toEqual(expected);
    expect(await registry.getInstances('anything-else', 'OTHER_GROUP')).toEqual(expected);
    expect(await registry.isReachable()).toBe(true);
    await registry.register({ service: 'orders', host: '127.0.0.1', port: 9 });
    await registry.deregister({ service: 'orders', host: '127.0.0.1', port: 9 });
    expect(await registry.getInstances('orders')).toEqual(expected);
  });

  it('hands out copies, so a consumer cannot alter what others see', async () => {
    const registry = new StaticRegistry([{ host: '127.0.0.1', port: 4000, metadata: { a: '1' } }]);
    const first = await registry.getInstances('x');
    first[0].metadata.a = 'changed';
    first.pop();
    expect(await registry.getInstances('x')).toMatchObject([{ metadata: { a: '1' } }]);
  });

  it('calls subscribers with the initial list, then on setInstances, until unsubscribed or closed', async () => {
    const registry = new StaticRegistry(['127.0.0.1:4000']);
    const orders: string[][] = [];
    const users: string[][] = [];
    const onOrders = (list: ServiceInstance[]) => orders.push(list.map((i) => i.id));
    await registry.subscribe('orders', onOrders);
    await registry.subscribe('users', (list) => users.push(list.map((i) => i.id)));
    expect(orders).toEqual([['127.0.0.1:4000']]);

    registry.setInstances(['127.0.0.1:4000', '127.0.0.1:4001']);
    expect(orders.at(-1)).toEqual(['127.0.0.1:4000', '127.0.0.1:4001']);
    expect(users.at(-1)).toEqual(['127.0.0.1:4000', '127.0.0.1:4001']);

    await registry.unsubscribe('orders', onOrders);
    registry.setInstances([]);
    expect(orders).toHaveLength(2);
    expect(users.at(-1)).toEqual([]);

    await registry.close();
    registry.setInstances(['127.0.0.1:4005']);
    expect(users).toHaveLength(3);
    expect(await registry.getInstances('users')).toMatchObject([{ id: '127.0.0.1:4005' }]);
  });

  it('logs a throwing listener and keeps notifying the others', async () => {
    const logger = recordingLogger();
    const registry = new StaticRegistry(['127.0.0.1:4000'], logger);
    const seen: number[] = [];
    await registry.subscribe('a', () => {
      throw new Error('boom');
    });
    await registry.subscribe('b', (list) => seen.push(list.length));
    registry.setInstances(['127.0.0.1:4000', '127.0.0.1:4001']);
    expect(seen).toEqual([1, 2]);
    expect(logger.lines.filter((l) => l.level === 'error' && /boom/.test(l.message))).toHaveLength(2);
  });

  it.each([
    ['127.0.0.1', 'addresses[0]', /expected "host:port"/],
    ['127.0.0.1:0', 'addresses[0].port', /integer in \[1, 65535\]/],
    ['127.0.0.1:70000', 'addresses[0].port', /integer in \[1, 65535\]/],
    [':4000', 'addresses[0]', /expected "host:port"/],
    ['host:port', 'addresses[0]', /expected "host:port"/],
    ['::1:4000', 'addresses[0]', /expected "host:port"/],
    ['a b:4000', 'addresses[0]', /expected "host:port"/],
    [{ host: '', port: 4000 }, 'addresses[0].host', /non-empty string/],
    [{ host: 'h', port: 1.5 }, 'addresses[0].port', /integer/],
    [{ host: 'h', port: 1, weight: -1 }, 'addresses[0].weight', /number in \[0, 10000\]/],
    [{ host: 'h', port: 1, metadata: { a: 1 } }, 'addresses[0].metadata.a', /string/],
    [42, 'addresses[0]', /expected "host:port" or/],
    [{ host: 'h', port: 1, wieght: 2 }, 'addresses[0].wieght', /unknown option/],
  ])('rejects %p naming %s', (address, field, message) => {
    const attempt = () => new StaticRegistry([address as never]);
    expect(attempt).toThrow(InvalidOptionsError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (err) {
      expect((err as InvalidOptionsError).field).toBe(`StaticRegistry.${field}`);
    }
  });

  it('rejects duplicates and a non-array, also in setInstances', () => {
    expect(() => new StaticRegistry(['127.0.0.1:4000', { host: '127.0.0.1', port: 4000 }])).toThrow(/addresses\[1\].*duplicate/);
    expect(() => new StaticRegistry('127.0.0.1:4000' as never)).toThrow(/expected an array/);
    const registry = new StaticRegistry([]);
    expect(() => registry.setInstances(['nope'])).toThrow(InvalidOptionsError);
  });
});
