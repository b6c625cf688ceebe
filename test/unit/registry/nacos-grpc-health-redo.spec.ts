import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { systemClock } from '../../../lib/common/clock.js';
import { HealthCheck } from '../../../lib/registry/nacos-grpc/health-check.js';
import type { NacosInstanceJson } from '../../../lib/registry/nacos-grpc/nacos-messages.js';
import type { NacosCall } from '../../../lib/registry/nacos-grpc/nacos-rpc-client.js';
import { RegistrationRedo } from '../../../lib/registry/nacos-grpc/registration-redo.js';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('HealthCheck (the Java client cadence)', () => {
  beforeEach(() => void jest.useFakeTimers());
  afterEach(() => void jest.useRealTimers());

  it('probes only after an interval without activity, retries after pauses <= 500 ms, then declares the connection dead', async () => {
    const probes: number[] = [];
    let answer = true;
    const dead = jest.fn();
    const health = new HealthCheck({ healthCheckInterval: 5000, healthCheckRetries: 3 }, systemClock, async () => (probes.push(Date.now()), answer), dead, () => 0.999);
    const t0 = Date.now();
    health.start();
    await jest.advanceTimersByTimeAsync(4000);
    health.markActive(); // a call succeeded at t0+4000
    await jest.advanceTimersByTimeAsync(1000);
    expect(probes).toEqual([]); // only 1 s idle at the 5 s tick
    await jest.advanceTimersByTimeAsync(5000);
    expect(probes).toEqual([t0 + 10_000]);

    answer = false;
    await jest.advanceTimersByTimeAsync(5000 + 3 * 500);
    // 1 try + 3 retries, each after a random pause below 500 ms.
    expect(probes.slice(1).map((t) => t - (t0 + 15_000))).toEqual([0, 499, 998, 1497]);
    expect(dead).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(20_000);
    expect(probes).toHaveLength(5); // stopped after the verdict
  });

  it('stop() cancels the cadence', async () => {
    const probe = jest.fn(async () => true);
    const health = new HealthCheck({ healthCheckInterval: 100, healthCheckRetries: 0 }, systemClock, probe, () => undefined);
    health.start();
    health.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(probe).not.toHaveBeenCalled();
  });
});

describe('RegistrationRedo', () => {
  const instance = (port: number): NacosInstanceJson => ({
    ip: '127.0.0.1', port, weight: 1, healthy: true, enabled: true, ephemeral: true, clusterName: 'DEFAULT', metadata: {},
  });
  const summary = (c: NacosCall) => {
    const f = c.fields as { type: string; instance?: { port: number }; instances?: Array<{ port: number }> };
    return `${c.type} ${f.type} ${f.instance ? f.instance.port : f.instances!.map((i) => i.port).join('+')}`;
  };

  it('sends one instance as InstanceRequest, several as one batch, and the remaining set on deregister', async () => {
    const sent: string[] = [];
    const redo = new RegistrationRedo('public', async (c) => (sent.push(summary(c)), true), quiet, () => true);
    await redo.register('G', 'svc', instance(1));
    await redo.register('G', 'svc', instance(2));
    await redo.deregister('G', 'svc', instance(1));
    await redo.deregister('G', 'svc', instance(2));
    await redo.deregister('G', 'svc', instance(3)); // never registered: nothing sent
    expect(sent).toEqual([
      'InstanceRequest registerInstance 1',
      'BatchInstanceRequest batchRegisterInstance 1+2',
      'InstanceRequest registerInstance 2',
      'InstanceRequest deregisterInstance 2',
    ]);
  });

  it('after a disconnect, redo() re-sends every set, and a failed sync is retried by the next redo()', async () => {
    const sent: string[] = [];
    let fail = false;
    const redo = new RegistrationRedo('public', async (c) => {
      sent.push(summary(c));
      if (fail) throw new Error('down');
      return true;
    }, quiet, () => true);
    await redo.register('G', 'a', instance(1));
    await redo.register('G', 'b', instance(2));
    await redo.register('G', 'b', instance(3));
    sent.length = 0;
    redo.onDisconnected();
    expect(redo.pending).toBe(2);
    fail = true;
    redo.redo();
    await new Promise((r) => setTimeout(r, 0));
    expect(redo.pending).toBe(2);
    fail = false;
    redo.redo();
    await new Promise((r) => setTimeout(r, 0));
    expect(redo.pending).toBe(0);
    expect(sent.slice(-2).sort()).toEqual(['BatchInstanceRequest batchRegisterInstance 2+3', 'InstanceRequest registerInstance 1']);
  });

  it('an answer from a replaced connection does not count as synced', async () => {
    const redo = new RegistrationRedo('public', async () => false, quiet, () => true);
    await redo.register('G', 'a', instance(1));
    expect(redo.pending).toBe(1);
  });

  it('a deregister while disconnected sends nothing and resolves at once (Nacos dropped the instances with the connection)', async () => {
    const sent: string[] = [];
    let connected = true;
    const redo = new RegistrationRedo('public', async (c) => (sent.push(summary(c)), true), quiet, () => connected);
    await redo.register('G', 'svc', instance(1));
    await redo.register('G', 'svc', instance(2));
    connected = false;
    redo.onDisconnected();
    await redo.deregister('G', 'svc', instance(1));
    expect(sent).toHaveLength(2);
    // What remains is re-sent by the redo once connected again.
    connected = true;
    redo.redo();
    await new Promise((r) => setTimeout(r, 0));
    expect(sent.at(-1)).toBe('InstanceRequest registerInstance 2');
    connected = false;
    redo.onDisconnected();
    await redo.deregister('G', 'svc', instance(2));
    expect(redo.pending).toBe(0);
  });
});
