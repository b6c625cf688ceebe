import { describe, expect, it } from '@jest/globals';
import { Directory } from '../../../lib/directory/directory.js';
import type { ServiceInstance } from '../../../lib/registry/service-instance.js';

const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };

function instance(port: number, metadata: Record<string, string> = {}, weight = 1): ServiceInstance {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight, healthy: true, enabled: true, cluster: 'DEFAULT', metadata };
}

/**
 * A provider restarted on the same address is the same directory entry with a new registration
 * (Nacos reports its new startTime): the directory reports it, so the client can reconnect at
 * once instead of waiting out its backoff (see test/integration/reconnect-expedite.spec.ts).
 */
describe('Directory reports changed registrations of known providers', () => {
  function directory() {
    const events: string[] = [];
    const d = new Directory(
      'svc',
      {
        onAdded: (i) => events.push(`+${i.port}`),
        onRemoved: (i) => events.push(`-${i.port}`),
        onUpdated: (i, previous) => events.push(`~${i.port} ${previous.metadata.startTime ?? ''}->${i.metadata.startTime ?? ''}`),
      },
      silent,
    );
    return { d, events };
  }

  it('reports a new registration (metadata, weight) of a known provider once, and the entry is replaced', () => {
    const { d, events } = directory();
    d.update([instance(1, { startTime: '100' }), instance(2, { startTime: '100' })]);
    d.update([instance(1, { startTime: '200' }), instance(2, { startTime: '100' })]);
    expect(events).toEqual(['+1', '+2', '~1 100->200']);
    expect(d.get('127.0.0.1:1')?.metadata.startTime).toBe('200');

    events.length = 0;
    d.update([instance(1, { startTime: '200' }, 5), instance(2, { startTime: '100', zone: 'b' })]);
    expect(events).toEqual(['~1 200->200', '~2 100->100']);
  });

  it('an identical list (a poll, a repeated push) reports nothing', () => {
    const { d, events } = directory();
    d.update([instance(1, { startTime: '100' })]);
    d.update([instance(1, { startTime: '100' })]);
    d.update([{ ...instance(1, { startTime: '100' }) }]);
    expect(events).toEqual(['+1']);
  });
});
