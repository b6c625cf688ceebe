import { describe, expect, it } from '@jest/globals';
import { systemClock } from '../../lib/common/clock.js';
import { consoleWarnLogger } from '../../lib/common/logger.js';
import { InvalidOptionsError } from '../../lib/errors/index.js';
import {
  DEFAULT_NACOS_REGISTRY_OPTIONS,
  resolveNacosRegistryOptions,
  type NacosRegistryOptionsInput,
} from '../../lib/registry/index.js';
import { DEFAULT_NACOS_GRPC_OPTIONS } from '../../lib/registry/nacos-grpc/nacos-grpc-options.js';

describe('resolveNacosRegistryOptions', () => {
  it('fills the documented defaults and splits a comma-separated server list', () => {
    expect(resolveNacosRegistryOptions({ serverList: ' nacos-1:8848, nacos-2 ' })).toEqual({
      serverList: ['nacos-1:8848', 'nacos-2:8848'],
      servers: [
        { host: 'nacos-1', port: 8848, grpcPort: 9848, scheme: 'http' },
        { host: 'nacos-2', port: 8848, grpcPort: 9848, scheme: 'http' },
      ],
      protocol: 'grpc',
      grpcPortOffset: 1000,
      tls: false,
      grpc: DEFAULT_NACOS_GRPC_OPTIONS,
      namespace: 'public',
      group: 'DEFAULT_GROUP',
      cluster: 'DEFAULT',
      discoveryClusters: ['DEFAULT'],
      logger: consoleWarnLogger,
      clock: systemClock,
    });
    expect(DEFAULT_NACOS_REGISTRY_OPTIONS.namespace).toBe('public');
    expect(resolveNacosRegistryOptions({ serverList: ['a:1'], group: undefined }).group).toBe('DEFAULT_GROUP');
  });

  it('derives gRPC ports (main + offset, or fixed), login schemes and IPv6 literals', () => {
    const o = resolveNacosRegistryOptions({ serverList: 'https://n1:8848,[::1]:7000', grpcPortOffset: 1001 });
    expect(o.servers).toEqual([
      { host: 'n1', port: 8848, grpcPort: 9849, scheme: 'https' },
      { host: '::1', port: 7000, grpcPort: 8001, scheme: 'http' },
    ]);
    expect(resolveNacosRegistryOptions({ serverList: ['a:1', 'b:2'], grpcPort: 19848 }).servers.map((s) => s.grpcPort)).toEqual([19848, 19848]);
    expect(resolveNacosRegistryOptions({ serverList: ['a'], protocol: 'http' }).protocol).toBe('http');
  });

  it.each<[Partial<NacosRegistryOptionsInput> & Record<string, unknown>, string]>([
    [{ serverList: [] }, 'NacosRegistry.serverList'],
    [{ serverList: '' }, 'NacosRegistry.serverList[0]'],
    [{ serverList: ['a:1', 'http://b:2'], protocol: 'http' }, 'NacosRegistry.serverList[1]'],
    [{ serverList: ['ftp://b:2'] }, 'NacosRegistry.serverList[0]'],
    [{ serverList: ['a'], protocol: 'udp' as never }, 'NacosRegistry.protocol'],
    [{ serverList: ['a'], grpcPort: 0 }, 'NacosRegistry.grpcPort'],
    [{ serverList: ['a:65000'] }, 'NacosRegistry.serverList[0]'],
    [{ serverList: ['a'], tls: { ca: 42 as never } }, 'NacosRegistry.tls.ca'],
    [{ serverList: ['a'], tls: { cert: 'x' } }, 'NacosRegistry.tls.key'],
    [{ serverList: ['a'], tls: { ca: 'x' }, protocol: 'http' }, 'NacosRegistry.tls'],
    [{ serverList: ['a'], grpc: { requestTimeout: 0 } }, 'NacosRegistry.grpc.requestTimeout'],
    [{ serverList: ['a'], grpc: { retries: 1 } as never }, 'NacosRegistry.grpc.retries'],
    [{ serverList: ['a:99999'] }, 'NacosRegistry.serverList[0].port'],
    [{ serverList: ['::1'] }, 'NacosRegistry.serverList[0]'],
    [{ serverList: ['[::1]:8848'], protocol: 'http' }, 'NacosRegistry.serverList[0]'],
    [{ serverList: ['a'], namespace: '' }, 'NacosRegistry.namespace'],
    [{ serverList: ['a'], group: 'G@@H' }, 'NacosRegistry.group'],
    [{ serverList: ['a'], cluster: '' }, 'NacosRegistry.cluster'],
    [{ serverList: ['a'], discoveryClusters: [] }, 'NacosRegistry.discoveryClusters'],
    [{ serverList: ['a'], discoveryClusters: ['a,b'] }, 'NacosRegistry.discoveryClusters[0]'],
    [{ serverList: ['a'], username: 'nacos' }, 'NacosRegistry.password'],
    [{ serverList: ['a'], password: 'x' }, 'NacosRegistry.username'],
    [{ serverList: ['a'], logger: { log() {}, warn() {} } as never }, 'NacosRegistry.logger.error'],
    [{ serverList: ['a'], servers: ['a'] }, 'NacosRegistry.servers'],
  ])('rejects %p naming %s', (options, field) => {
    let error: unknown;
    try {
      resolveNacosRegistryOptions(options as NacosRegistryOptionsInput);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).field).toBe(field);
  });
});
