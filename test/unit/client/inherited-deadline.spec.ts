import { describe, expect, it } from '@jest/globals';
import type { CallSettings } from '../../../lib/client/client-call.js';
import { inheritScope } from '../../../lib/client/inherited-deadline.js';
import { RequestCancelledError } from '../../../lib/errors/request-cancelled-error.js';
import { RpcTimeoutError } from '../../../lib/errors/rpc-timeout-error.js';
import type { CallScope } from '../../../lib/propagation/call-scope.js';

const settings: CallSettings = {
  pattern: 'c.work',
  data: 1,
  metadata: undefined,
  timeoutMs: 3000,
  timeoutSource: undefined,
  retries: 0,
  context: undefined,
  waitForReady: false,
  inheritDeadline: true,
};

function scope(remainingMs: number | undefined, abortReason?: Error): CallScope {
  return { pattern: 'b.work', remainingMs: () => remainingMs, abortReason, adopt: () => undefined, release: () => undefined };
}

describe('inheritScope: a call made in a handler', () => {
  it("takes what is left of the handler's budget minus the margin, and says so", () => {
    const out = inheritScope(settings, scope(250.6), 5) as CallSettings;
    expect(out.timeoutMs).toBe(245);
    expect(out.timeoutSource).toBe(
      'deadline inherited from the handler of "b.work": 251 ms left of its caller\'s budget, minus deadlineMargin 5 ms; opt out per call with inheritDeadline: false',
    );
    expect(settings.timeoutMs).toBe(3000);
  });

  it('keeps its own timeout when shorter, and everything when the handler has no deadline', () => {
    expect(inheritScope({ ...settings, timeoutMs: 100 }, scope(250), 5)).toEqual({ ...settings, timeoutMs: 100 });
    expect(inheritScope(settings, scope(undefined), 5)).toBe(settings);
  });

  it('a spent budget (margin included) is an RpcTimeoutError to fail with at once', () => {
    for (const left of [5.9, 0, -30]) {
      const error = inheritScope(settings, scope(left), 5) as RpcTimeoutError;
      expect(error).toBeInstanceOf(RpcTimeoutError);
      expect(error.timeoutMs).toBe(0);
      expect(error.message).toMatch(/spent before the call was sent \(nothing was sent\) \[deadline inherited from the handler of "b\.work"/);
    }
    expect(inheritScope(settings, scope(6), 5)).toMatchObject({ timeoutMs: 1 });
  });

  it('a handler already told to stop: a parent-cancelled error caused by its reason', () => {
    const reason = new RequestCancelledError('deadline-exceeded', 'test');
    const error = inheritScope(settings, scope(100, reason), 5) as RequestCancelledError;
    expect(error.kind).toBe('parent-cancelled');
    expect(error.cause).toBe(reason);
    expect(error.message).toMatch(/the handler of "b\.work" that made this call was told to stop: Request cancelled \(deadline-exceeded\): test/);
  });
});
