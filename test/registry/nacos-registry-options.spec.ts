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
    [{ serverList: [] }, 'nacos.serverList'],
    [{ serverList: '' }, 'nacos.serverList[0]'],
    [{ serverList: ['a:1', 'http://b:2'], protocol: 'http' }, 'nacos.serverList[1]'],
    [{ serverList: ['ftp://b:2'] }, 'nacos.serverList[0]'],
    [{ serverList: ['a'], protocol: 'udp' as never }, 'nacos.protocol'],
    [{ serverList: ['a'], grpcPort: 0 }, 'nacos.grpcPort'],
    [{ serverList: ['a:65000'] }, 'nacos.serverList[0]'],
    [{ serverList: ['a'], tls: { ca: 42 as never } }, 'nacos.tls.ca'],
    [{ serverList: ['a'], tls: { cert: 'x' } }, 'nacos.tls.key'],
    [{ serverList: ['a'], tls: { ca: 'x' }, protocol: 'http' }, 'nacos.tls'],
    [{ serverList: ['a'], grpc: { requestTimeout: 0 } }, 'nacos.grpc.requestTimeout'],
    [{ serverList: ['a'], grpc: { retries: 1 } as never }, 'nacos.grpc.retries'],
    [{ serverList: ['a:99999'] }, 'nacos.serverList[0].port'],
    [{ serverList: ['::1'] }, 'nacos.serverList[0]'],
    [{ serverList: ['[::1]:8848'], protocol: 'http' }, 'nacos.serverList[0]'],
    [{ serverList: ['a'], namespace: '' }, 'nacos.namespace'],
    [{ serverList: ['a'], group: 'G@@H' }, 'nacos.group'],
    [{ serverList: ['a'], cluster: '' }, 'nacos.cluster'],
    [{ serverList: ['a'], discoveryClusters: [] }, 'nacos.discoveryClusters'],
    [{ serverList: ['a'], discoveryClusters: ['a,b'] }, 'nacos.discoveryClusters[0]'],
    [{ serverList: ['a'], username: 'nacos' }, 'nacos.password'],
    [{ serverList: ['a'], password: 'x' }, 'nacos.username'],
    [{ serverList: ['a'], logger: { log() {}, warn() {} } as never }, 'nacos.logger.error'],
    [{ serverList: ['a'], servers: ['a'] }, 'nacos.servers'],
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
