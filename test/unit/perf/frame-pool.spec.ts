import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { lastValueFrom } from 'rxjs';
import type { MsRpcClient } from '../../../lib/index.js';
import { FramePool, POOL_MAX_BYTES, POOL_MIN_BYTES } from '../../../lib/protocol/frame-pool.js';
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
