import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { systemClock } from '../../lib/common/clock.js';
import { InvalidOptionsError, RegistryError, RegistryTimeoutError } from '../../lib/errors/index.js';
import { DEFAULT_CLIENT_OPTIONS, resolveClientOptions } from '../../lib/client/client-options.js';
import { resolveModuleOptions } from '../../lib/module/ms-rpc-module-options.js';
import type { Registration } from '../../lib/registry/registration.js';
import type { Registry } from '../../lib/registry/registry.js';
import { DEFAULT_REGISTRY_TIMEOUT, withRegistryTimeout } from '../../lib/registry/registry-timeout.js';
import { ProviderRegistration } from '../../lib/server/provider-registration.js';
import { DEFAULT_SERVER_OPTIONS, resolveServerOptions } from '../../lib/server/server-options.js';
import { StaticRegistry } from '../../lib/registry/static-registry.js';
import { recordingLogger } from '../support/nacos-test-helpers.js';

/** A registry whose calls hang until the test settles them: a Nacos that accepts and never answers. */
function hangingRegistry() {
  const calls: Array<{ op: string; resolve: () => void; reject: (err: Error) => void }> = [];
  const hang = (op: string) => () =>
    new Promise<void>((resolve, reject) => {
      calls.push({ op, resolve, reject });
    });
  const registry: Registry = {
    kind: 'hanging',
    identity: 'hanging://',
    register: hang('register'),
    deregister: hang('deregister'),
    subscribe: hang('subscribe'),
    unsubscribe: hang('unsubscribe'),
    getInstances: () => Promise.resolve([]),
    isReachable: () => Promise.resolve(false),
    close: () => Promise.resolve(),
  };
  return { registry, calls, ops: () => calls.map((c) => c.op) };
}

const REG: Registration = { service: 'svc', host: '127.0.0.1', port: 4000 };

describe('withRegistryTimeout', () => {
  beforeEach(() => void jest.useFakeTimers());
  afterEach(() => void jest.useRealTimers());

  it('passes the answer through and clears its timer', async () => {
    await expect(withRegistryTimeout(Promise.resolve(7), 'op', 1000, systemClock)).resolves.toBe(7);
    expect(jest.getTimerCount()).toBe(0);
    const boom = new RegistryError('refused');
    await expect(withRegistryTimeout(Promise.reject(boom), 'op', 1000, systemClock)).rejects.toBe(boom);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('fails with a RegistryTimeoutError naming the operation; a late outcome is dropped', async () => {
    let fail!: (err: Error) => void;
    const call = new Promise<void>((_, reject) => (fail = reject));
    const bounded = withRegistryTimeout(call, 'deregister svc@127.0.0.1:4000 in nacos', 3000, systemClock);
    const outcome = bounded.catch((err: unknown) => err);
    jest.advanceTimersByTime(2999);
    await Promise.resolve();
    jest.advanceTimersByTime(1);
    const err = (await outcome) as RegistryTimeoutError;
    expect(err).toBeInstanceOf(RegistryTimeoutError);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ name: 'RegistryTimeoutError', code: 'ERR_REGISTRY', operation: 'deregister svc@127.0.0.1:4000 in nacos', timeoutMs: 3000 });
    expect(err.message).toBe('Registry call timed out after 3000 ms: deregister svc@127.0.0.1:4000 in nacos');
    // No unhandled rejection when the abandoned call fails later (jest would report it).
    fail(new Error('socket hang up'));
    await Promise.resolve();
  });
});

describe('ProviderRegistration against a registry that never answers', () => {
  beforeEach(() => void jest.useFakeTimers());
  afterEach(() => void jest.useRealTimers());

  it('gives each register attempt registryTimeout, never piles requests up, and stop() deregisters within registryTimeout', async () => {
    const { registry, calls, ops } = hangingRegistry();
    const logger = recordingLogger();
    const registration = new ProviderRegistration(registry, REG, logger, systemClock, 1000);
    registration.start();
    expect(ops()).toEqual(['register']);
    await jest.advanceTimersByTimeAsync(1000);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      expect.stringMatching(
        /^registering svc@127\.0\.0\.1:4000 in hanging failed: Registry call timed out after 1000 ms: register svc@127\.0\.0\.1:4000 in hanging \(next attempt in \d+ ms\); retrying \(repeats at debug level until it recovers\)$/,
      ),
    ]);
    // Retries wait on the request still out instead of sending another.
    await jest.advanceTimersByTimeAsync(5000);
    expect(ops()).toEqual(['register']);
    expect(registration.registered).toBe(false);

    let stopped = false;
    const stopping = registration.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(999);
    expect(stopped).toBe(false);
    expect(ops().at(-1)).toBe('deregister');
    await jest.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(stopped).toBe(true);
    expect(logger.lines.at(-1)).toEqual({
      level: 'error',
      message: 'deregistering svc@127.0.0.1:4000 in hanging failed: Registry call timed out after 1000 ms: deregister svc@127.0.0.1:4000 in hanging',
    });
    // Whatever the registry does later changes nothing and throws nowhere.
    for (const call of calls) call.reject(new Error('late'));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a register() that lands after its attempt timed out counts: logged once, retries stop', async () => {
    const { registry, calls, ops } = hangingRegistry();
    const logger = recordingLogger();
    const registration = new ProviderRegistration(registry, REG, logger, systemClock, 1000);
    registration.start();
    await jest.advanceTimersByTimeAsync(1000);
    calls[0].resolve();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(registration.registered).toBe(true);
    expect(ops()).toEqual(['register']);
    expect(logger.lines.filter((l) => l.level === 'log').map((l) => l.message)).toEqual([
      expect.stringMatching(/^registered svc@127\.0\.0\.1:4000 in hanging after an outage of \d+ ms \(1 failed attempt\)$/),
    ]);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('registryTimeout options', () => {
  it('defaults to 3000 ms on servers, clients and the module', () => {
    expect(DEFAULT_REGISTRY_TIMEOUT).toBe(3000);
    expect(DEFAULT_SERVER_OPTIONS.registryTimeout).toBe(3000);
    expect(DEFAULT_CLIENT_OPTIONS.registryTimeout).toBe(3000);
    expect(resolveModuleOptions({}).registryTimeout).toBe(3000);
    expect(resolveServerOptions({ registryTimeout: 250 }).registryTimeout).toBe(250);
  });

  it.each([0, -1, 1.5, '3000', Number.NaN, 2 ** 31])('rejects %p, naming the field', (value) => {
    const registry = new StaticRegistry(['127.0.0.1:4000']);
    expect(() => resolveServerOptions({ registryTimeout: value as number })).toThrow(InvalidOptionsError);
    expect(() => resolveServerOptions({ registryTimeout: value as number })).toThrow(/"MsRpcServer\.registryTimeout"/);
    expect(() => resolveClientOptions({ registry, registryTimeout: value as number })).toThrow(/"MsRpcClient\.registryTimeout"/);
    expect(() => resolveModuleOptions({ registryTimeout: value as number })).toThrow(/"MsRpcModule\.registryTimeout"/);
  });
});
