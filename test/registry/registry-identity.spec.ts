import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectorySnapshotStore } from '../../lib/directory/directory-snapshot.js';
import { NacosRegistry, StaticRegistry, type ServiceInstance } from '../../lib/registry/index.js';
import { serverListIdentity } from '../../lib/registry/registry-identity.js';
import { recordingLogger } from '../support/nacos-test-helpers.js';
import { instance } from '../unit/balancer/fixtures.js';

describe('registry identity', () => {
  const registries: NacosRegistry[] = [];
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.close()));
  });
  const nacos = (serverList: string | string[], namespace?: string) => {
    const r = new NacosRegistry({ serverList, namespace, logger: recordingLogger() });
    registries.push(r);
    return r;
  };

  it('normalises a server list: order, spacing, case, duplicates and the default port do not matter', () => {
    const id = serverListIdentity('nacos', ['10.0.0.2:8848', 'nacos-a.internal:9000'], 'public', 8848);
    expect(id).toBe('nacos://10.0.0.2:8848,nacos-a.internal:9000/public');
    expect(serverListIdentity('nacos', [' Nacos-A.internal:9000 ', '10.0.0.2', '10.0.0.2:8848', ''], 'public', 8848)).toBe(id);
    expect(serverListIdentity('nacos', ['10.0.0.2:8848', 'nacos-a.internal:9000'], 'prod', 8848)).not.toBe(id);
    expect(serverListIdentity('nacos', ['10.0.0.3:8848', 'nacos-a.internal:9000'], 'public', 8848)).not.toBe(id);
    expect(serverListIdentity('nacos', ['10.0.0.2:8849', 'nacos-a.internal:9000'], 'public', 8848)).not.toBe(id);
  });

  it('NacosRegistry: the same servers and namespace, however written, are one identity; another namespace or cluster is another', () => {
    const a = nacos('127.0.0.1:8848, nacos-b:9000');
    expect(a.identity).toBe('nacos://127.0.0.1:8848,nacos-b:9000/public');
    expect(nacos([' NACOS-B:9000', '127.0.0.1']).identity).toBe(a.identity);
    expect(nacos('127.0.0.1:8848,nacos-b:9000', 'staging').identity).toBe('nacos://127.0.0.1:8848,nacos-b:9000/staging');
    expect(nacos('127.0.0.1:8849,nacos-b:9000').identity).not.toBe(a.identity);
  });

  it('StaticRegistry: its addresses, sorted', () => {
    const a = new StaticRegistry(['127.0.0.1:4001', '127.0.0.1:4000']);
    expect(a.identity).toBe('static://127.0.0.1:4000,127.0.0.1:4001');
    expect(new StaticRegistry(['127.0.0.1:4000', ' 127.0.0.1:4001']).identity).toBe(a.identity);
    expect(new StaticRegistry(['127.0.0.1:4000']).identity).not.toBe(a.identity);
  });
});

describe('DirectorySnapshotStore keyed by registry', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const provider = (port: number): ServiceInstance => instance(`127.0.0.1:${port}`);

  it('keeps one file per registry for the same group and service, and reads back only its own', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-rpc-snapshot-'));
    const logger = recordingLogger();
    const staging = new DirectorySnapshotStore(dir, 'nacos://staging:8848/public', logger);
    const prod = new DirectorySnapshotStore(dir, 'nacos://prod:8848/public', logger);
    expect(staging.fileFor('svc', 'DEFAULT_GROUP')).not.toBe(prod.fileFor('svc', 'DEFAULT_GROUP'));
    await staging.save('svc', 'DEFAULT_GROUP', [provider(4000)]);
    expect(await prod.load('svc', 'DEFAULT_GROUP')).toBeUndefined();
    await prod.save('svc', 'DEFAULT_GROUP', [provider(5000)]);
    expect(await staging.load('svc', 'DEFAULT_GROUP')).toEqual([provider(4000)]);
    expect(await prod.load('svc', 'DEFAULT_GROUP')).toEqual([provider(5000)]);
    expect(JSON.parse(await readFile(prod.fileFor('svc', 'DEFAULT_GROUP'), 'utf8'))).toMatchObject({
      version: 2,
      registry: 'nacos://prod:8848/public',
      service: 'svc',
      group: 'DEFAULT_GROUP',
      savedAt: expect.any(Number),
    });
    expect(logger.lines).toEqual([]);
  });

  it("ignores, with a warning, a file that holds another registry's list (copied over, renamed)", async () => {
    dir = await mkdtemp(join(tmpdir(), 'ms-rpc-snapshot-'));
    const logger = recordingLogger();
    const staging = new DirectorySnapshotStore(dir, 'nacos://staging:8848/public', logger);
    const prod = new DirectorySnapshotStore(dir, 'nacos://prod:8848/public', logger);
    await staging.save('svc', 'DEFAULT_GROUP', [provider(4000)]);
    await rename(staging.fileFor('svc', 'DEFAULT_GROUP'), prod.fileFor('svc', 'DEFAULT_GROUP'));
    expect(await prod.load('svc', 'DEFAULT_GROUP')).toBeUndefined();
    expect(logger.lines).toEqual([{ level: 'warn', message: expect.stringMatching(/ignoring provider snapshot .*"nacos:\/\/staging:8848\/public"/) }]);
  });
});
