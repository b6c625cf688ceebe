import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ConnectionLiveness, type LivenessSettings } from '../../../lib/connection/connection-liveness.js';
import { countingClock, type CountingClock } from './counting-clock.js';

const T0 = 1_000_000;

/**
 * A simulated peer around one ConnectionLiveness, on jest's fake clock: it answers every ping
 * after `rtt` ms (a pong is a read) unless `silent`, and the test sets the calls in flight.
 */
class Line {
  readonly pings: number[] = [];
  readonly deaths: number[] = [];
  calls = 0;
  silent = false;
  readonly liveness: ConnectionLiveness;

  constructor(
    settings: Partial<LivenessSettings>,
    readonly clock: CountingClock,
    private readonly rtt: number | 'never',
    /** Mark the ping's write a loop turn later, as the transport's flush does (+1 ms on jest's clock). */
    private readonly flushLater: boolean,
  ) {
    this.liveness = new ConnectionLiveness(
      { heartbeatInterval: 1000, idleHeartbeatInterval: 0, heartbeatTimeout: 10_000, ...settings },
      clock,
      {
        ping: () => this.onPing(),
        dead: () => {
          this.deaths.push(clock.now() - T0);
          // Connection destroys the socket, whose close stops the heartbeats.
          this.liveness.stop();
        },
        inFlight: () => this.calls,
      },
    );
  }

  private onPing(): void {
    this.pings.push(this.clock.now() - T0);
    if (this.flushLater) setImmediate(() => this.liveness.markWrite());
    else this.liveness.markWrite();
    if (this.rtt === 'never') return;
    const answer = () => {
      if (!this.silent) this.liveness.markRead();
    };
    if (this.rtt === 0) setImmediate(answer);
    else setTimeout(answer, this.rtt);
  }

  /** A call starts (Connection calls callStarted when none was in flight) and is written. */
  startCall(): void {
    if (this.calls === 0) this.liveness.callStarted();
    this.calls++;
    this.liveness.markWrite();
  }

  gaps(): number[] {
    return this.pings.slice(1).map((t, i) => t - this.pings[i]);
  }
}

describe('ConnectionLiveness', () => {
  let clock: CountingClock;
  let lines: Line[];
  const line = (
    settings: Partial<LivenessSettings>,
    rtt: number | 'never' = 1,
    { calls = 0, flushLater = false } = {},
  ): Line => {
    const l = new Line(settings, clock, rtt, flushLater);
    l.calls = calls;
    l.liveness.start();
    lines.push(l);
    return l;
  };

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    clock = countingClock();
    lines = [];
  });
  afterEach(() => {
    for (const l of lines) l.liveness.stop();
    expect(clock.live).toBe(0);
    jest.useRealTimers();
  });

  /**
   * Pings per interval on one client connection. Every ping costs the server a read, a decode and
   * a write: at 10,000 idle connections a second ping per interval is a thousand more syscalls a
   * second, so "one ping per interval" is checked here against simulated round trips.
   */
  describe('active pacing (and idleHeartbeatInterval 0: the same on idle lines)', () => {
    it.each([
      [0, 0],
      [1, 0],
      [2, 0],
      [7, 0],
      [1, 1],
      [7, 1],
    ])('a quiet line pings once per interval (pong after %i ms, %i calls in flight)', (rtt, calls) => {
      const l = line({ idleHeartbeatInterval: calls ? 5000 : 0 }, rtt, { calls, flushLater: true });
      jest.advanceTimersByTime(10_000 + 500);
      expect(l.pings).toHaveLength(10);
      for (const gap of l.gaps()) expect(gap).toBeGreaterThanOrEqual(1000);
      for (const gap of l.gaps()) expect(gap).toBeLessThanOrEqual(1000 + rtt + 1);
    });

    it('a line that only writes (answers slow) still pings every interval on read-idle', () => {
      const l = line({ idleHeartbeatInterval: 5000 }, 'never', { calls: 3 });
      // The application writes a request every 100 ms: never write-idle, nothing read.
      const writer = setInterval(() => l.liveness.markWrite(), 100);
      jest.advanceTimersByTime(5_000 + 50);
      clearInterval(writer);
      expect(l.pings).toHaveLength(5);
      expect(l.deaths).toEqual([]);
    });

    it('a line with steady reads and writes sends no ping at all', () => {
      const l = line({ idleHeartbeatInterval: 5000 }, 1, { calls: 1 });
      const traffic = setInterval(() => {
        l.liveness.markWrite();
        l.liveness.markRead();
      }, 100);
      jest.advanceTimersByTime(5_000);
      clearInterval(traffic);
      expect(l.pings).toEqual([]);
    });

    it('with calls in flight the peer is dead heartbeatTimeout after the last read, though pings go out', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 1, { calls: 1 });
      jest.advanceTimersByTime(2500); // pings at 1000 and 2000, answered
      l.silent = true;
      jest.advanceTimersByTime(10_000);
      expect(l.deaths).toHaveLength(1);
      // Last pong at 2001: dead at 5001, confirmed two loop turns later (+1 ms each on jest's clock).
      expect(l.deaths[0]).toBeGreaterThanOrEqual(5001);
      expect(l.deaths[0]).toBeLessThanOrEqual(5003);
    });
  });

  describe('idle pacing (no call in flight)', () => {
    it('pings every idleHeartbeatInterval, once each', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 });
      jest.advanceTimersByTime(20_500);
      expect(l.pings).toEqual([5000, 10_000, 15_000, 20_000]);
      expect(l.deaths).toEqual([]);
    });

    it('a quiet healthy peer is never declared dead, though nothing is read for longer than heartbeatTimeout', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 2500);
      jest.advanceTimersByTime(60_000);
      expect(l.pings).toHaveLength(12);
      expect(l.deaths).toEqual([]);
    });

    it('declares the peer dead heartbeatTimeout after an unanswered ping', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 });
      jest.advanceTimersByTime(12_000); // pings at 5000 and 10000 answered
      l.silent = true;
      jest.advanceTimersByTime(10_000);
      expect(l.pings.slice(0, 3)).toEqual([5000, 10_000, 15_000]);
      expect(l.deaths).toHaveLength(1);
      expect(l.deaths[0]).toBeGreaterThanOrEqual(18_000);
      expect(l.deaths[0]).toBeLessThanOrEqual(18_002);
    });

    it('with idleHeartbeatInterval below heartbeatTimeout, the deadline runs from the first unanswered ping', () => {
      const l = line({ heartbeatInterval: 1000, idleHeartbeatInterval: 2000, heartbeatTimeout: 5000 }, 'never');
      jest.advanceTimersByTime(10_000);
      expect(l.pings.slice(0, 2)).toEqual([2000, 4000]);
      expect(l.deaths).toHaveLength(1);
      expect(l.deaths[0]).toBeGreaterThanOrEqual(7000);
      expect(l.deaths[0]).toBeLessThanOrEqual(7002);
    });

    it('from active to idle: the next ping comes an idle interval after the last one', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 1, { calls: 1 });
      jest.advanceTimersByTime(3500);
      expect(l.pings).toEqual([1000, 2000, 3000]);
      l.calls = 0; // the call ends: no hook, the timer finds out
      jest.advanceTimersByTime(15_000);
      expect(l.pings).toEqual([1000, 2000, 3000, 8000, 13_000, 18_000]);
      expect(l.deaths).toEqual([]);
    });

    it('pings off (heartbeatInterval 0): no idle pings either, whatever idleHeartbeatInterval says', () => {
      const l = line({ heartbeatInterval: 0, idleHeartbeatInterval: 5000, heartbeatTimeout: 0 });
      jest.advanceTimersByTime(60_000);
      expect(l.pings).toEqual([]);
      expect(clock.created).toBe(0);
    });
  });

  describe('idle → active', () => {
    it('a call on a read-idle line pings at once; the deadline runs from the call start', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 });
      jest.advanceTimersByTime(6000); // ping at 5000, pong at 5001
      l.silent = true;
      jest.advanceTimersByTime(2500); // 8500: read-idle 3499 ms > heartbeatInterval
      l.startCall();
      expect(l.pings).toEqual([5000, 8500]);
      jest.advanceTimersByTime(10_000);
      // Measured from the last read (5001) it would be 8001, before the call even started.
      expect(l.deaths).toHaveLength(1);
      expect(l.deaths[0]).toBeGreaterThanOrEqual(11_500);
      expect(l.deaths[0]).toBeLessThanOrEqual(11_502);
    });

    it('a call on a silently dead idle line fails within heartbeatTimeout of its start, not of the next idle ping', () => {
      const l = line({ idleHeartbeatInterval: 20_000, heartbeatTimeout: 3000 });
      jest.advanceTimersByTime(21_000); // ping at 20000 answered
      l.silent = true;
      jest.advanceTimersByTime(9000); // 30000: the next idle ping is not due before 40000
      l.startCall();
      jest.advanceTimersByTime(3100);
      expect(l.deaths).toHaveLength(1);
      expect(l.deaths[0]).toBeLessThanOrEqual(33_002);
    });

    it('a healthy idle peer that answers the wake-up ping slower than the rest of heartbeatTimeout stays up', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 2000);
      jest.advanceTimersByTime(7500); // ping at 5000, pong at 7000
      jest.advanceTimersByTime(2000); // 9500: read-idle 2500 ms
      l.startCall(); // pinged; pong at 11500, after lastRead + heartbeatTimeout (10000)
      jest.advanceTimersByTime(4000);
      expect(l.pings).toEqual([5000, 9500, 10_500, 11_500, 12_500, 13_500]);
      expect(l.deaths).toEqual([]);
    });

    it('a call on a line read within heartbeatInterval sends no extra ping and pulls in the idle timer', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 'never');
      jest.advanceTimersByTime(500);
      l.liveness.markRead(); // an answer at 500
      jest.advanceTimersByTime(300);
      l.startCall(); // 800: the idle timer sleeps until 5500
      expect(l.pings).toEqual([]);
      jest.advanceTimersByTime(10_000);
      // Active rules: ping on read-idle at 1500, dead 3000 after the last read (two loop turns).
      expect(l.pings[0]).toBe(1500);
      expect(l.deaths[0]).toBeGreaterThanOrEqual(3500);
      expect(l.deaths[0]).toBeLessThanOrEqual(3502);
    });

    it('calls that time out and restart on a dead line do not push its deadline forever', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 1, { calls: 1 });
      jest.advanceTimersByTime(1500); // ping at 1000 answered at 1001
      l.silent = true;
      // Calls with a 2 s timeout, one after the other with a 100 ms pause: each finds the line
      // read-idle for over heartbeatInterval and wakes it.
      for (let i = 0; i < 6 && l.deaths.length === 0; i++) {
        l.calls = 0;
        jest.advanceTimersByTime(100);
        l.startCall();
        jest.advanceTimersByTime(2000);
      }
      // First unanswered ping at 2001: dead at 5001, not 3000 after the latest call start.
      expect(l.pings[1]).toBe(2001);
      expect(l.deaths).toHaveLength(1);
      expect(l.deaths[0]).toBeLessThanOrEqual(5003);
    });

    it('calls starting on a busy line touch no timer (the hot path)', () => {
      const l = line({ idleHeartbeatInterval: 5000, heartbeatTimeout: 3000 }, 0, { calls: 1 });
      jest.advanceTimersByTime(1200);
      const timers = clock.created;
      for (let i = 0; i < 10_000; i++) {
        l.liveness.markRead();
        l.calls = 0; // answered
        l.startCall();
      }
      expect(clock.created).toBe(timers);
    });
  });

  describe("the server's Hello", () => {
    const hello = (idleTimeoutMs: number) => ({ idleTimeoutMs, maxFrameSize: 1 << 20 });
    it.each([
      // [heartbeatInterval, idleHeartbeatInterval, server idleTimeout] → [interval, idleInterval]
      [3000, 20_000, 60_000, 3000, 20_000],
      [3000, 20_000, 0, 3000, 20_000],
      [3000, 20_000, 30_000, 3000, 10_000],
      [3000, 20_000, 10_000, 3000, 3333],
      [3000, 20_000, 4000, 1333, 1333],
      [4000, 20_000, 10_000, 4000, 4000],
      [3000, 0, 10_000, 3000, 3000],
      [0, 20_000, 60_000, 20_000, 20_000],
      [0, 0, 9000, 3000, 3000],
    ])('%i/%i ms with a server idle timeout of %i ms → %i/%i ms', (interval, idle, serverIdle, expInterval, expIdle) => {
      const l = line({ heartbeatInterval: interval, idleHeartbeatInterval: idle, heartbeatTimeout: 10_000 });
      expect(l.liveness.applyHello(hello(serverIdle))).toEqual({ interval: expInterval, idleInterval: expIdle });
      expect(l.liveness.intervals).toEqual({ interval: expInterval, idleInterval: expIdle });
    });

    it('an idle line then pings at the adapted idle interval', () => {
      const l = line({ heartbeatInterval: 3000, idleHeartbeatInterval: 20_000, heartbeatTimeout: 10_000 });
      l.liveness.applyHello(hello(10_000));
      jest.advanceTimersByTime(10_500);
      expect(l.pings).toEqual([3333, 6666, 9999]);
    });
  });
});
