import { describe, expect, it } from '@jest/globals';
import { checkCallInit, resolveCallSettings, type CallDefaults } from '../../../lib/client/call-settings.js';
import { resolveClientOptions } from '../../../lib/client/client-options.js';
import { MsRpcRecordBuilder } from '../../../lib/client/ms-rpc-record.js';
import { InvalidOptionsError } from '../../../lib/errors/invalid-options-error.js';
import { resolveServerOptions } from '../../../lib/server/server-options.js';

/** The options of issue 18: inheritDeadline, deadlineMargin, tracing. */
describe('deadline and tracing options', () => {
  const providers = ['127.0.0.1:4100'];

  it('client defaults: calls inherit, a 5 ms margin, tracing on', () => {
    expect(resolveClientOptions({ providers })).toMatchObject({ inheritDeadline: true, deadlineMargin: 5, tracing: true });
    expect(resolveServerOptions({}).tracing).toBe(true);
  });

  it.each([
    [{ inheritDeadline: 'yes' }, 'MsRpcClient.inheritDeadline'],
    [{ deadlineMargin: -1 }, 'MsRpcClient.deadlineMargin'],
    [{ deadlineMargin: 1.5 }, 'MsRpcClient.deadlineMargin'],
    [{ tracing: 1 }, 'MsRpcClient.tracing'],
  ])('rejects %j naming %s', (bad, field) => {
    expect(() => resolveClientOptions({ providers, ...(bad as object) })).toThrow(InvalidOptionsError);
    expect(() => resolveClientOptions({ providers, ...(bad as object) })).toThrow(field);
  });

  it('rejects a server tracing option that is not a boolean', () => {
    expect(() => resolveServerOptions({ tracing: 'on' as never })).toThrow('MsRpcServer.tracing');
  });

  it('per call: a boolean in client.call() options and in a record', () => {
    expect(() => checkCallInit({ inheritDeadline: 'no' })).toThrow('MsRpcClient.call.inheritDeadline');
    expect(() => checkCallInit({ inheritDeadline: false })).not.toThrow();
    expect(() => new MsRpcRecordBuilder(1).setInheritDeadline('no' as never)).toThrow('MsRpcRecord.inheritDeadline');
    expect(new MsRpcRecordBuilder(1).setInheritDeadline(false).build().options.inheritDeadline).toBe(false);
  });

  it('the client default, then the record, then the call options, each over the previous', () => {
    const defaults: CallDefaults = {
      timeout: 1000,
      waitForReady: false,
      retries: 0,
      idempotentPatterns: new Set(),
      hashKey: undefined,
      contextEveryCall: false,
      inheritDeadline: true,
    };
    const settings = (payload: unknown, overrides?: object, d = defaults) =>
      resolveCallSettings(d, 'p', 'p', payload, undefined, overrides);
    expect(settings(1).inheritDeadline).toBe(true);
    expect(settings(1, undefined, { ...defaults, inheritDeadline: false }).inheritDeadline).toBe(false);
    const detached = new MsRpcRecordBuilder(1).setInheritDeadline(false).build();
    expect(settings(detached).inheritDeadline).toBe(false);
    expect(settings(detached, { inheritDeadline: true }).inheritDeadline).toBe(true);
    expect(settings(1, { inheritDeadline: false }).inheritDeadline).toBe(false);
  });
});
