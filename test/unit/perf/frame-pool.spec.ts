import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { lastValueFrom } from 'rxjs';
import type { MsRpcClient } from '../../../lib/index.js';
import { FramePool, POOL_MAX_BYTES, POOL_MAX_FREE_BYTES, POOL_MIN_BYTES } from '../../../lib/protocol/frame-pool.js';
import { countingClock } from '../liveness/counting-clock.js';
import { testClient } from '../../support/test-client.js';
import { startTestProvider, type TestProvider } from '../../support/test-provider.js';

describe('FramePool', () => {
  it('hands out exactly the size asked, and reuses a released slab for the next frame of its class', () => {
    const pool = new FramePool();
    const a = pool.alloc(16_400);
    expect(a.length).toBe(16_400);
    expect(a.buffer.byteLength).toBe(32_768);
    pool.release(a);
    expect(pool.freeSlabs).toBe(1);
    const b = pool.alloc(20_000);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.freeSlabs).toBe(0);
    // A different class gets its own slab.
    const c = pool.alloc(5_000);
    expect(c.buffer.byteLength).toBe(8_192);
    expect(c.buffer).not.toBe(a.buffer);
  });

  it('never lists a slab twice, and ignores buffers it did not create', () => {
    const pool = new FramePool();
    const a = pool.alloc(10_000);
    pool.release(a);
    pool.release(a);
    expect(pool.freeSlabs).toBe(1);
    const x = pool.alloc(10_000);
    const y = pool.alloc(10_000);
    expect(x.buffer).not.toBe(y.buffer);
    pool.release(Buffer.allocUnsafeSlow(16_384));
    pool.release(Buffer.alloc(POOL_MIN_BYTES * 2));
    pool.release(x.subarray(1));
    expect(pool.freeSlabs).toBe(0);
  });

  it('leaves small and huge frames to the allocator, and keeps at most 32 free slabs per class', () => {
    const pool = new FramePool();
    const small = pool.alloc(POOL_MIN_BYTES - 1);
    const huge = pool.alloc(POOL_MAX_BYTES + 1);
    pool.release(small);
    pool.release(huge);
    expect(pool.freeSlabs).toBe(0);
    const frames = Array.from({ length: 50 }, () => pool.alloc(6_000));
    for (const f of frames) pool.release(f);
    expect(pool.freeSlabs).toBe(32);
  });
});

describe('FramePool bounds', () => {
  it('never holds more than maxFreeBytes of free slabs in total', () => {
    const pool = new FramePool();
    // 32 slabs of each of the 9 size classes would be ~64 MiB idle.
    const frames: Buffer[] = [];
    for (let size = POOL_MIN_BYTES; size <= POOL_MAX_BYTES; size *= 2) {
      for (let i = 0; i < 32; i++) frames.push(pool.alloc(size));
    }
    for (const f of frames) pool.release(f);
    expect(pool.freeBytes).toBeLessThanOrEqual(POOL_MAX_FREE_BYTES);
    expect(pool.freeBytes).toBeGreaterThan(POOL_MAX_FREE_BYTES / 2);
    pool.close();
    const small = new FramePool(100_000);
    const slabs = Array.from({ length: 10 }, () => small.alloc(20_000));
    for (const f of slabs) small.release(f);
    expect(small.freeBytes).toBe(3 * 32_768);
    small.close();
  });

  it('drops the slabs an interval did not need, is empty after two idle intervals, and stops its timer', () => {
    jest.useFakeTimers();
    try {
      const clock = countingClock();
      const pool = new FramePool(POOL_MAX_FREE_BYTES, clock, 1000);
      const burst = Array.from({ length: 8 }, () => pool.alloc(10_000));
      for (const f of burst) pool.release(f);
      expect(pool.freeSlabs).toBe(8);
      expect(clock.live).toBe(1);
      // Of the burst, only the first slab released stayed free for the whole interval that saw it.
      jest.advanceTimersByTime(1000);
      expect(pool.freeSlabs).toBe(7);
      // Busy with 3 frames at a time during the next interval: 5 slabs were never needed.
      for (let round = 0; round < 10; round++) {
        const inUse = Array.from({ length: 3 }, () => pool.alloc(10_000));
        for (const f of inUse) pool.release(f);
      }
      jest.advanceTimersByTime(1000);
      expect(pool.freeSlabs).toBe(3);
      // Idle from here: everything goes, and the timer with it.
      jest.advanceTimersByTime(1000);
      expect(pool.freeSlabs).toBe(0);
      expect(pool.freeBytes).toBe(0);
      jest.advanceTimersByTime(5000);
      expect(clock.live).toBe(0);
      // close() drops what is free and keeps nothing released later.
      const again = pool.alloc(10_000);
      pool.release(pool.alloc(10_000));
      pool.close();
      expect(clock.live).toBe(0);
      pool.release(again);
      expect(pool.freeSlabs).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('large frames through a real connection with the pool', () => {
  let provider: TestProvider;
  let client: MsRpcClient;

  beforeAll(async () => {
    provider = await startTestProvider();
    client = testClient(provider.port, { timeout: 10_000, heartbeatInterval: 1000, heartbeatTimeout: 5000 }).client;
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
    await provider.close();
  });

  it('300 concurrent calls with distinct 20 KiB payloads each get their own payload back', async () => {
    // A slab reused while still being written would show up here as another call's bytes.
    const payload = (i: number) => `${i}:`.padEnd(20_000, String.fromCharCode(97 + (i % 26)));
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        i % 2 ? client.call<string>('echo', payload(i)) : lastValueFrom(client.send<string>('echo', payload(i))),
      ),
    );
    answers.forEach((answer, i) => expect(answer).toBe(payload(i)));
  });
});
