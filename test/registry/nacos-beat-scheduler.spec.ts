import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { systemClock } from '../../lib/common/clock.js';
import { NacosBeatScheduler, type NacosBeatInfo } from '../../lib/registry/nacos-beat-scheduler.js';

function beat(port: number, metadata: Record<string, string> = {}): NacosBeatInfo {
  return { serviceName: 'DEFAULT_GROUP@@orders', ip: '127.0.0.1', port, cluster: 'DEFAULT', weight: 1, metadata, scheduled: false };
}

describe('NacosBeatScheduler', () => {
  let sent: Array<{ port: number; at: number; scheduled: boolean }>;
  let answer: number;
  let scheduler: NacosBeatScheduler;

  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
    sent = [];
    answer = 5000;
    scheduler = new NacosBeatScheduler(async (b) => {
      sent.push({ port: b.port, at: Date.now(), scheduled: b.scheduled });
      return answer;
    }, systemClock);
  });

  afterEach(async () => {
    await scheduler.close();
    jest.useRealTimers();
  });

  it('beats one period after registration, then at the interval the server answers', async () => {
    answer = 2000;
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4001));
    await jest.advanceTimersByTimeAsync(4999);
    expect(sent).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([{ port: 4001, at: 5000, scheduled: true }]);
    await jest.advanceTimersByTimeAsync(4000);
    expect(sent.map((s) => s.at)).toEqual([5000, 7000, 9000]);
    // A later registration starts from the learned interval.
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4002));
    await jest.advanceTimersByTimeAsync(2000);
    expect(sent.filter((s) => s.port === 4002).map((s) => s.at)).toEqual([11000]);
  });

  it('honours preserved.heart.beat.interval metadata', async () => {
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4001, { 'preserved.heart.beat.interval': '100' }));
    await jest.advanceTimersByTimeAsync(350);
    expect(sent.map((s) => s.at)).toEqual([100, 200, 300]);
  });

  it('stops a removed instance and everything on close, leaving no timer behind', async () => {
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4001));
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4002));
    scheduler.removeBeatInfo('DEFAULT_GROUP@@orders', '127.0.0.1', 4001);
    await jest.advanceTimersByTimeAsync(5000);
    expect(sent.map((s) => s.port)).toEqual([4002]);
    await scheduler.close();
    expect(jest.getTimerCount()).toBe(0);
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4003));
    expect(jest.getTimerCount()).toBe(0);
  });

  it('re-adding an instance replaces its schedule instead of doubling it', async () => {
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4001));
    await jest.advanceTimersByTimeAsync(3000);
    scheduler.addBeatInfo('DEFAULT_GROUP@@orders', beat(4001));
    await jest.advanceTimersByTimeAsync(7000);
    expect(sent.map((s) => s.at)).toEqual([8000]);
  });
});
