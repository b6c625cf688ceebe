import type { ChannelCache } from '../channel/channel-cache.js';
import { NoProviderError, ProviderFailure } from '../errors/no-provider-error.js';
import type { ServiceInstance } from '../registry/service-instance.js';
import type { RouteFilter, RouterDiscovery } from './provider-router.js';

/**
 * Why a call on `route` cannot be served by the providers serving it and waiting would not help,
 * or undefined (it waits). When every one of them refused our credentials (AuthError,
 * TlsHandshakeError), that refusal, whatever `waitForReady` says: retrying the same credentials
 * cannot succeed. Else, without `waitForReady`: a NoProviderError once every one failed its latest
 * connect attempt (none connecting, ready, lost after being ready, or not tried yet: a provider
 * the router does not hold makes the call wait for the attempt its call starts).
 */
export function failFastError(
  service: string,
  serving: readonly ServiceInstance[],
  channels: ChannelCache,
  isHeld: (address: string) => boolean,
  route: RouteFilter | undefined,
  waitForReady: boolean,
): Error | undefined {
  const failures: ProviderFailure[] = [];
  let refusal: Error | undefined;
  let allRefused = true;
  for (const instance of serving) {
    const connections = channels.get(instance.id);
    if (!isHeld(instance.id) || !connections || connections.length === 0) return undefined;
    let first: Error | undefined;
    for (const c of connections) {
      const failure = c.state === 'transient-failure' ? c.lastAttemptFailure : undefined;
      if (!failure) return undefined;
      first ??= failure;
      if (c.rejection) refusal ??= c.rejection;
      else allRefused = false;
    }
    failures.push({ address: instance.id, error: first! });
  }
  if (failures.length === 0) return undefined;
  if (allRefused) return refusal;
  if (waitForReady) return undefined;
  return new NoProviderError(service, `the latest connect attempt of every provider failed`, { pattern: route?.pattern, failures });
}

/** The error of a wait that ran out of time: what was known, and why none was ready. */
export function waitExpiredError(
  service: string,
  known: number,
  serving: readonly ServiceInstance[],
  channels: ChannelCache,
  discovery: RouterDiscovery,
  timeoutMs: number,
  route: RouteFilter | undefined,
): NoProviderError {
  const failures: ProviderFailure[] = [];
  for (const instance of serving) {
    const failed = channels.get(instance.id)?.find((c) => c.lastAttemptFailure !== undefined);
    if (failed) failures.push({ address: instance.id, error: failed.lastAttemptFailure! });
  }
  const registryError = discovery.lastError;
  let detail: string;
  if (known > 0) detail = `none of ${known} known provider(s) became ready within ${timeoutMs} ms`;
  else if (registryError) detail = `no provider known after ${timeoutMs} ms: the registry failed (${registryError.message})`;
  else if (discovery.answered) detail = `no provider was registered within ${timeoutMs} ms`;
  else detail = `no answer from the registry within ${timeoutMs} ms`;
  return new NoProviderError(service, detail, {
    pattern: route?.pattern,
    failures,
    waitedMs: timeoutMs,
    cause: failures.length === 0 ? registryError : undefined,
  });
}
