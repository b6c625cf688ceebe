import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult, type HealthIndicatorStatus } from '@nestjs/terminus';
import type { TimerHandle } from '../common/clock.js';
import {
  MS_RPC_HEALTH_OPTIONS,
  resolveHealthOptions,
  toWatchedSource,
  type MsRpcHealthOptions,
  type ResolvedHealthOptions,
} from './health-options.js';
import type { HealthSource, ReachableRegistry, RegistryHealth, ServiceHealth } from './health-source.js';

/** The result data under the indicator's key (besides Terminus' own `status`). */
// A type alias, not an interface: Terminus' data parameter needs an implicit index signature.
export type MsRpcHealthDetails = {
  /** Absent when no registry is configured. */
  registry?: RegistryHealth;
  /** By service name; several sources of one service merge (max counts, required if any is). */
  services: Record<string, ServiceHealth>;
  /** The problems found, for humans; absent when there are none. */
  message?: string;
  /** Only with Terminus 11, which has no `degraded` status: set instead. */
  degraded?: true;
};

const TIMED_OUT = Symbol('timed out');

/**
 * Terminus health indicator of the RPC layer: registry reachability (bounded by a timeout) and,
 * per watched service, how many providers are ready.
 *
 * - `down` when a required service has no ready provider, or the registry is unreachable and
 *   `registryRequired` is set;
 * - `degraded` when only an optional service has no ready provider or the (non-required)
 *   registry is unreachable (Terminus 11: `up` with `degraded: true`);
 * - `up` otherwise.
 *
 * A required client counts as down until it has a ready provider, and clients connect lazily:
 * call `client.connect()` at bootstrap so a readiness probe does not wait for the first call.
 */
@Injectable()
export class MsRpcHealthIndicator {
  private readonly options: ResolvedHealthOptions;
  private readonly sources = new Map<HealthSource, boolean>();

  constructor(
    private readonly health: HealthIndicatorService,
    @Optional() @Inject(MS_RPC_HEALTH_OPTIONS) options?: Partial<MsRpcHealthOptions>,
  ) {
    this.options = resolveHealthOptions(options ?? {});
    for (const { source, required } of this.options.sources) {
      this.sources.set(source, required);
    }
  }

  /** Starts reporting a service; returns the matching `unwatch`. Watching again updates `required`. */
  watch(source: HealthSource, options: { required?: boolean } = {}): () => void {
    const { required } = toWatchedSource('watch', { source, required: options.required });
    this.sources.set(source, required);
    return () => this.unwatch(source);
  }

  unwatch(source: HealthSource): void {
    this.sources.delete(source);
  }

  /** Use in `HealthCheckService.check([() => indicator.isHealthy()])`. Never throws. */
  async isHealthy<const Key extends string = 'ms-rpc'>(
    key?: Key,
  ): Promise<HealthIndicatorResult<Key, HealthIndicatorStatus, MsRpcHealthDetails>> {
    const session = this.health.check((key ?? this.options.key) as Key);
    const problems: string[] = [];
    let down = false;
    let degraded = false;

    const registry = this.options.registry ? await this.pingRegistry(this.options.registry) : undefined;
    if (registry && !registry.reachable) {
      problems.push(`registry (${registry.kind}) unreachable${registry.error ? `: ${registry.error}` : ''}`);
      if (registry.required) down = true;
      else degraded = true;
    }

    const services = this.readSources();
    for (const [name, service] of Object.entries(services)) {
      if (service.ready > 0) continue;
      problems.push(
        `${service.required ? 'required' : 'optional'} service "${name}" has no ready provider (${service.known} known)`,
      );
      if (service.required) down = true;
      else degraded = true;
    }

    const details: MsRpcHealthDetails = { ...(registry ? { registry } : {}), services };
    if (problems.length > 0) details.message = problems.join('; ');
    if (down) return session.down(details);
    if (!degraded) return session.up(details);
    // Terminus 11 has no degraded status; staying up is the point of a non-fatal problem.
    if (typeof (session as { degraded?: unknown }).degraded === 'function') return session.degraded(details);
    return session.up({ ...details, degraded: true });
  }

  private readSources(): Record<string, ServiceHealth> {
    const services: Record<string, ServiceHealth> = {};
    for (const [source, required] of this.sources) {
      let ready = 0;
      let known = 0;
      let error: string | undefined;
      try {
        ready = source.readyProviderCount();
        known = source.knownProviderCount();
      } catch (err) {
        ready = 0;
        error = errorMessage(err);
      }
      const name = source.serviceName;
      const previous = Object.hasOwn(services, name) ? services[name] : undefined;
      const entry: ServiceHealth = {
        ready: Math.max(ready, previous?.ready ?? 0),
        known: Math.max(known, previous?.known ?? 0),
        required: required || (previous?.required ?? false),
      };
      const errorText = error ?? previous?.error;
      if (errorText !== undefined) entry.error = errorText;
      services[name] = entry;
    }
    return services;
  }

  private async pingRegistry(registry: ReachableRegistry): Promise<RegistryHealth> {
    const { clock, registryTimeoutMs, registryRequired } = this.options;
    const started = clock.now();
    const result: RegistryHealth = { kind: registry.kind, reachable: false, required: registryRequired, responseTimeMs: 0 };
    let timer: TimerHandle | undefined;
    try {
      const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = clock.setTimeout(() => resolve(TIMED_OUT), registryTimeoutMs);
      });
      // Promise.race handles a late rejection of the losing isReachable(): no unhandled rejection.
      const answer = await Promise.race([Promise.resolve().then(() => registry.isReachable()), timeout]);
      if (answer === TIMED_OUT) result.error = `no answer within ${registryTimeoutMs} ms`;
      else result.reachable = answer === true;
    } catch (err) {
      result.error = errorMessage(err);
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    result.responseTimeMs = Math.max(0, clock.now() - started);
    return result;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
