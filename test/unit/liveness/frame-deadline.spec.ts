import { describe, expect, it } from '@jest/globals';
import type { Clock } from '../../../lib/common/clock.js';
import { FrameDeadline } from '../../../lib/liveness/frame-deadline.js';

/** A clock that only moves when told; FrameDeadline never sets timers. */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1000;
  return {
    now: () => now,
    advance: (ms) => void (now += ms),
    setTimeout: () => {
      throw new Error('FrameDeadline must not set timers');
    },
    clearTimeout: () => undefined,
  };
}

describe('FrameDeadline', () => {
  it('cuts a frame dribbled one byte at a time at the first byte after the limit', () => {
    const clock = manualClock();
    const d = new FrameDeadline(300, clock);
    let cutAt = -1;
    for (let byte = 1; byte <= 16 && cutAt < 0; byte++) {
      const elapsed = d.afterChunk(byte, 0);
      if (elapsed >= 0) cutAt = elapsed;
      else clock.advance(100);
    }
    // Started at byte 1; bytes arrive every 100 ms: 300 ms is not over the limit, 400 ms is.
    expect(cutAt).toBe(400);
  });

  it('never cuts a busy peer whose frames straddle chunks, however long it keeps going', () => {
    const clock = manualClock();
    const d = new FrameDeadline(300, clock);
    // Every chunk completes the frame that was pending and starts the next one.
    for (let frames = 1; frames <= 1000; frames++) {
      expect(d.afterChunk(7, frames)).toBe(-1);
      clock.advance(250);
    }
  });

  it('restarts when no frame is incomplete after a chunk, and measures from the new frame', () => {
    const clock = manualClock();
    const d = new FrameDeadline(300, clock);
    expect(d.afterChunk(10, 0)).toBe(-1);
    expect(d.startedAt).toBe(1000);
    clock.advance(200);
    expect(d.afterChunk(0, 1)).toBe(-1);
    expect(d.startedAt).toBeUndefined();
    clock.advance(200);
    expect(d.afterChunk(5, 1)).toBe(-1);
    expect(d.startedAt).toBe(1400);
    clock.advance(300);
    expect(d.afterChunk(6, 1)).toBe(-1);
    clock.advance(1);
    expect(d.afterChunk(7, 1)).toBe(301);
  });

  it('a frame that completes in the same chunk as the next one starts gets a fresh deadline', () => {
    const clock = manualClock();
    const d = new FrameDeadline(300, clock);
    d.afterChunk(10, 0);
    clock.advance(290);
    // The slow frame completed (frames 0 → 1) and 3 bytes of the next one arrived with it.
    expect(d.afterChunk(3, 1)).toBe(-1);
    clock.advance(290);
    expect(d.afterChunk(4, 1)).toBe(-1);
    clock.advance(20);
    expect(d.afterChunk(5, 1)).toBe(310);
  });

  it('limit 0 disables the check', () => {
    const clock = manualClock();
    const d = new FrameDeadline(0, clock);
    d.afterChunk(1, 0);
    clock.advance(1e9);
    expect(d.afterChunk(2, 0)).toBe(-1);
  });
});
