import { describe, expect, it } from '@jest/globals';
import { systemClock } from '../../lib/common/clock.js';
import { consoleWarnLogger } from '../../lib/common/logger.js';
import { InvalidOptionsError } from '../../lib/errors/index.js';
import {
  DEFAULT_NACOS_REGISTRY_OPTIONS,
  resolveNacosRegistryOptions,
  type NacosRegistryOptionsInput,
} from '../../lib/registry/index.js';

describe('resolveNacosRegistryOptions', () => {
  it('fills the documented defaults and splits a comma-separated server list', () => {
    expect(resolveNacosRegistryOptions({ serverList: ' nacos-1:8848, nacos-2 ' })).toEqual({
      serverList: ['nacos-1:8848', 'nacos-2'],
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

  it.each<[Partial<NacosRegistryOptionsInput> & Record<string, unknown>, string]>([
    [{ serverList: [] }, 'nacos.serverList'],
    [{ serverList: '' }, 'nacos.serverList[0]'],
    [{ serverList: ['a:1', 'http://b:2'] }, 'nacos.serverList[1]'],
    [{ serverList: ['a:99999'] }, 'nacos.serverList[0].port'],
    [{ serverList: ['::1'] }, 'nacos.serverList[0]'],
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
