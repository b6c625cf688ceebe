import { describe, expect, it } from '@jest/globals';
import { OutlierDetector } from '../../../lib/routing/outlier-detector.js';
import { resolveOutlierDetectionOptions, type OutlierDetectionOptions } from '../../../lib/routing/routing-options.js';
import { fakeClock } from './fake-clock.js';

const OPTS: Partial<OutlierDetectionOptions> = {
  intervalMs: 1000,
  baseEjectionMs: 5000,
  maxEjectionMs: 12_000,
  failureThreshold: 0.5,
  minRequests: 10,
  maxEjectionPercent: 50,
};

function setup(partial: Partial<OutlierDetectionOptions> = {}) {
  const clock = fakeClock();
  const detector = new OutlierDetector(resolveOutlierDetectionOptions({ ...OPTS, ...partial }, 'od'), clock);
  return { clock, detector };
}

/** `n` outcomes per provider: failures first, then successes. */
function feed(d: OutlierDetector, id: string, n: number, failures: number): void {
  for (let i = 0; i < n; i++) d.record(id, i >= failures);
}

describe('OutlierDetector', () => {
  it('ejects a provider failing far more than the others at the end of the interval', () => {
    const { clock, detector } = setup();
    feed(detector, 'a', 20, 20);
    feed(detector, 'b', 20, 0);
    expect(detector.isEjected('a')).toBe(false);
    clock.advance(1000);
    detector.tick();
    expect(detector.isEjected('a')).toBe(true);
    expect(detector.isEjected('b')).toBe(false);
  });

  it('does not judge providers with fewer than minRequests calls', () => {
    const { clock, detector } = setup();
    feed(detector, 'a', 9, 9);
    feed(detector, 'b', 20, 0);
    clock.advance(1000);
    detector.tick();
    expect(detector.ejected()).toEqual([]);
  });

  it('does not eject when every provider fails (the trouble is elsewhere)', () => {
    const { clock, detector } = setup();
    feed(detector, 'a', 20, 20);
    feed(detector, 'b', 20, 15);
    clock.advance(1000);
    detector.tick();
    expect(detector.ejected()).toEqual([]);
  });

  it('never ejects more than maxEjectionPercent of the providers', () => {
    const { clock, detector } = setup();
    for (const id of ['a', 'b', 'c']) feed(detector, id, 20, 20);
    for (const id of ['d', 'e', 'f']) feed(detector, id, 40, 0);
    clock.advance(1000);
    detector.tick();
    expect(detector.ejected()).toHaveLength(3);
    // A single provider is never ejected at all.
    const solo = setup();
    feed(solo.detector, 'a', 50, 50);
    solo.clock.advance(1000);
    solo.detector.tick();
    expect(solo.detector.ejected()).toEqual([]);
  });

  it('lets an ejected provider back after base × times ejected, longer each time, capped', () => {
    const { clock, detector } = setup();
    const fail = () => {
      feed(detector, 'a', 20, 20);
      feed(detector, 'b', 20, 0);
      clock.advance(1000);
      detector.tick();
    };
    const ejectedFor = () => {
      let ms = 0;
      while (detector.isEjected('a')) {
        clock.advance(1000);
        ms += 1000;
        feed(detector, 'b', 20, 0);
        detector.tick();
      }
      return ms;
    };
    fail();
    expect(ejectedFor()).toBe(5000);
    fail();
    expect(ejectedFor()).toBe(10_000);
    fail();
    expect(ejectedFor()).toBe(12_000); // capped at maxEjectionMs
  });

  it('forgets providers that left', () => {
    const { clock, detector } = setup();
    feed(detector, 'a', 20, 20);
    feed(detector, 'b', 20, 0);
    clock.advance(1000);
    detector.tick();
    detector.forget('a');
    expect(detector.isEjected('a')).toBe(false);
  });
});
