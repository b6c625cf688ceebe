import { describe, expect, it } from '@jest/globals';
import { BoundedLogger, boundedLogger, clipLogLine, MAX_LOG_MESSAGE, quotePeer } from '../../../lib/common/logger.js';
import { formatDuration, OutageLog } from '../../../lib/common/outage-log.js';
import type { Clock } from '../../../lib/common/clock.js';
import { recordingLogger } from '../../support/loopback-utils.js';

/** A clock whose time the test sets. */
function manualClock(): Clock & { at: number } {
  return {
    at: 0,
    now() {
      return this.at;
    },
    setTimeout: () => undefined,
    clearTimeout: () => undefined,
  };
}

describe('log lines an operator can live with', () => {
  it('clipLogLine: one line, at most the limit, and says how long the original was', () => {
    expect(clipLogLine('short')).toBe('short');
    expect(clipLogLine('a\nb\r\n  c')).toBe('a b c');
    const long = clipLogLine('x'.repeat(1000));
    expect(long.length).toBe(MAX_LOG_MESSAGE);
    expect(long.endsWith('... (1000 chars)')).toBe(true);
    expect(clipLogLine('y'.repeat(50), 20)).toHaveLength(20);
  });

  it('BoundedLogger: every level clipped, stacks cut per line, extra arguments passed on, missing levels dropped', () => {
    const inner = recordingLogger();
    const stacks: unknown[] = [];
    const error = inner.error;
    inner.error = (message: string, stack?: string) => {
      stacks.push(stack);
      error(message, stack);
    };
    const logger = boundedLogger(inner);
    expect(boundedLogger(logger)).toBe(logger);
    const long = 'z'.repeat(500);
    logger.log(long);
    logger.warn(`${long}\n${long}`);
    logger.error(long, `Error: ${long}\n    at f (file.js:1:1)`);
    logger.debug?.(long);
    logger.verbose?.(long);
    expect(inner.lines.map((l) => l.level)).toEqual(['log', 'warn', 'error', 'debug', 'verbose']);
    for (const { message } of inner.lines) {
      expect(message.length).toBeLessThanOrEqual(MAX_LOG_MESSAGE);
      expect(message).not.toContain('\n');
    }
    const stack = String(stacks[0]).split('\n');
    expect(stack).toHaveLength(2);
    expect(stack[0].length).toBeLessThanOrEqual(MAX_LOG_MESSAGE);
    expect(stack[1]).toBe('    at f (file.js:1:1)');

    // A logger without debug/verbose (the default console one) simply does not get them.
    const lines: string[] = [];
    const bare = BoundedLogger.wrap({ log: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) });
    bare.debug('d');
    bare.verbose('v');
    bare.fatal('f');
    expect(lines).toEqual(['f']);
  });

  it('quotePeer: quoted, escaped, cut', () => {
    expect(quotePeer('draining')).toBe('"draining"');
    expect(quotePeer('a"b\nc')).toBe('"a\\"b\\nc"');
    expect(quotePeer('p'.repeat(200))).toBe(JSON.stringify(`${'p'.repeat(80)}...`));
    expect(quotePeer(42)).toBe('"42"');
  });

  it('OutageLog: one warning when failures start, repeats at debug, one line with the duration when it recovers', () => {
    const clock = manualClock();
    const logger = recordingLogger();
    const outage = new OutageLog(logger, clock);
    expect(outage.recovered('fine')).toBe(false);
    expect(logger.lines).toEqual([]);

    clock.at = 1000;
    for (let i = 0; i < 100; i++) {
      outage.failed(`nacos: beat failed: ECONNREFUSED (${i})`);
      clock.at += 5000;
    }
    expect(outage.down).toBe(true);
    expect(outage.failedAttempts).toBe(100);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([
      { level: 'warn', message: 'nacos: beat failed: ECONNREFUSED (0); retrying (repeats at debug level until it recovers)' },
    ]);
    expect(logger.lines.filter((l) => l.level === 'debug')).toHaveLength(99);
    expect(logger.lines[1].message).toBe('nacos: beat failed: ECONNREFUSED (1) (failure 2 of this outage)');

    expect(outage.recovered('nacos: answers again')).toBe(true);
    expect(logger.lines.at(-1)).toEqual({ level: 'log', message: 'nacos: answers again after an outage of 8 min 20 s (100 failed attempts)' });
    expect(outage.down).toBe(false);
    expect(outage.recovered('again')).toBe(false);

    // The next outage is a new one: a warning again.
    outage.failed('x'.repeat(1000));
    const warning = logger.lines.at(-1)!;
    expect(warning.level).toBe('warn');
    expect(warning.message.length).toBeLessThanOrEqual(MAX_LOG_MESSAGE);
    expect(warning.message.endsWith('; retrying (repeats at debug level until it recovers)')).toBe(true);
    clock.at += 1;
    outage.recovered('back');
    expect(logger.lines.at(-1)!.message).toBe('back after an outage of 1 ms (1 failed attempt)');
  });

  it('formatDuration', () => {
    expect(formatDuration(850.4)).toBe('850 ms');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 5 s');
    expect(formatDuration(7_380_000)).toBe('2 h 3 min');
  });
});
