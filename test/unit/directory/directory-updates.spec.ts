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

/**
 * Issue 19: a registry delivers the full list on every push (a thousand providers, most of them
 * unchanged). The directory applies only the differences: an unchanged provider keeps its entry,
 * so the router's cached route lists and the balancers' per-list state stay valid.
 */
describe('Directory applies full pushes incrementally', () => {
  function recorder() {
    const events = { added: 0, removed: [] as string[], updated: 0, changed: 0 };
    const d = new Directory(
      'svc',
      {
        onAdded: () => events.added++,
        onRemoved: (i, why) => events.removed.push(`${i.port}:${why}`),
        onUpdated: () => events.updated++,
        onChanged: () => events.changed++,
      },
      silent,
    );
    return { d, events };
  }

  it('keeps the entry (the same object) of a provider whose registration did not change, and reports nothing', () => {
    const { d, events } = recorder();
    d.update([instance(1, { startTime: '100' }), instance(2)]);
    const first = d.get('127.0.0.1:1');
    const version = d.version;
    d.update([instance(1, { startTime: '100' }), instance(2)]);
    expect(d.get('127.0.0.1:1')).toBe(first);
    expect(d.version).toBe(version);
    expect(events).toEqual({ added: 2, removed: [], updated: 0, changed: 1 });
  });

  it('a push changing 10 % of 1,000 providers reports exactly those, and onChanged once', () => {
    const { d, events } = recorder();
    const list = (changed: (i: number) => 'same' | 'gone' | 'restarted') =>
      Array.from({ length: 1000 }, (_, i) => {
        const kind = changed(i);
        if (kind === 'gone') return instance(20_000 + i, { startTime: '1' });
        return instance(10_000 + i, { startTime: kind === 'restarted' ? '2' : '1', patterns: '["a","b"]' });
      });
    d.update(list(() => 'same'));
    const before = [...d.values()];
    events.added = 0;
    events.changed = 0;
    const version = d.version;
    d.update(list((i) => (i % 20 === 0 ? 'gone' : i % 20 === 1 ? 'restarted' : 'same')));
    expect(events.added).toBe(50);
    expect(events.removed).toHaveLength(50);
    expect(events.removed.every((r) => r.endsWith(':registry'))).toBe(true);
    expect(events.updated).toBe(50);
    expect(events.changed).toBe(1);
    expect(d.version).toBe(version + 150);
    const kept = before.filter((i) => i.port % 20 > 1);
    expect(kept.every((i) => d.get(i.id) === i)).toBe(true);
  });

  it('tells a provider reported unusable from one no longer reported', () => {
    const { d, events } = recorder();
    d.update([instance(1), instance(2), instance(3)]);
    d.update([{ ...instance(1), healthy: false }, instance(3)]);
    expect(events.removed.sort()).toEqual(['1:unusable', '2:registry']);
  });

  it('compares metadata both ways, without caring about key order', () => {
    const { d, events } = recorder();
    d.update([instance(1, { a: '1', b: '2' })]);
    d.update([instance(1, { b: '2', a: '1' })]);
    expect(events.updated).toBe(0);
    d.update([instance(1, { a: '1' })]);
    d.update([instance(1, { a: '1', c: '3' })]);
    expect(events.updated).toBe(2);
  });
});

