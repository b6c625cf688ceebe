import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { OutageLog } from '../common/outage-log.js';
import { ExponentialBackoff } from '../liveness/backoff.js';
import type { Registration } from '../registry/registration.js';
import type { Registry } from '../registry/registry.js';
import { DEFAULT_REGISTRY_TIMEOUT, withRegistryTimeout } from '../registry/registry-timeout.js';

/**
 * Keeps one provider registered: registers in the background once the server listens,
 * retrying with backoff for as long as the registry refuses (a registry outage at startup
 * must never crash or block the server), and deregisters on stop.
 *
 * Each registry call is waited for at most `registryTimeout`: a registry that accepts and never
 * answers must hold neither the retries nor the server's shutdown. A register() that timed out
 * stays out until it settles, and the next attempt waits on it again instead of piling up
 * another request behind it.
 */
export class ProviderRegistration {
  private readonly backoff: ExponentialBackoff;
  private timer: TimerHandle | undefined;
  /** The wait for the current attempt, bounded by `registryTimeout`. */
  private attempt: Promise<void> | undefined;
  /** The registry's register() still out (it may outlive the attempt that timed out). */
  private call: Promise<void> | undefined;
  private stopped = false;
  private isRegistered = false;
  /** A register() call was made, successful or not. */
  private attempted = false;
  /** Failed attempts: one warning, then debug; one line once registered. */
  private readonly outage: OutageLog;

  constructor(
    private readonly registry: Registry,
    readonly registration: Registration,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    private readonly registryTimeout = DEFAULT_REGISTRY_TIMEOUT,
    /** Unlimited attempts: the provider keeps trying until the registry comes back. */
    backoff = new ExponentialBackoff({ initialDelay: 500, maxDelay: 30_000, maxAttempts: 0 }),
  ) {
    this.backoff = backoff;
    this.outage = new OutageLog(logger, clock);
  }

  get registered(): boolean {
    return this.isRegistered;
  }

  get label(): string {
    const r = this.registration;
    return `${r.service}@${r.host}:${r.port} in ${this.registry.kind}`;
  }

  start(): void {
    if (this.stopped || this.attempt || this.isRegistered) return;
    this.attempted = true;
    const call = (this.call ??= this.register());
    this.attempt = withRegistryTimeout(call, `register ${this.label}`, this.registryTimeout, this.clock).then(
      () => {
        this.attempt = undefined;
      },
      (err: Error) => {
        this.attempt = undefined;
        if (this.stopped || this.isRegistered) return;
        const delay = this.backoff.next() ?? 30_000;
        this.outage.failed(`registering ${this.label} failed: ${err.message} (next attempt in ${Math.round(delay)} ms)`);
        this.timer = this.clock.setTimeout(() => {
          this.timer = undefined;
          this.start();
        }, delay);
      },
    );
  }

  /** One register() call; its success counts even when it lands after its attempt timed out. */
  private register(): Promise<void> {
    const call = this.registry.register(this.registration).then(() => {
      // Recorded even when stopping, so stop() deregisters a registration that landed late.
      this.isRegistered = true;
      if (this.stopped) return;
      this.clearRetry();
      this.backoff.reset();
      if (!this.outage.recovered(`registered ${this.label}`)) this.logger.log(`registered ${this.label}`);
    });
    const done = () => {
      if (this.call === call) this.call = undefined;
    };
    call.then(done, done);
    return call;
  }

  private clearRetry(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Stops retrying and deregisters (waiting for an attempt in flight first, so a registration
   * that lands during shutdown is still removed). Each of the two waits is bounded by
   * `registryTimeout`. Never throws: failures and timeouts are logged.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearRetry();
    if (this.attempt) await this.attempt;
    // Deregister after a FAILED register() too: a registry may keep acting on it in the background.
    // The Nacos client starts beating for an instance before its register request (and keeps beating
    // when that request fails), and Nacos re-registers an unknown instance from a beat: a provider
    // stopped during a Nacos outage used to re-appear, dead, once Nacos came back, for as long as its
    // registry stayed open. Deregistering is what stops those beats.
    if (!this.isRegistered && !this.attempted) return;
    try {
      await withRegistryTimeout(this.registry.deregister(this.registration), `deregister ${this.label}`, this.registryTimeout, this.clock);
      this.isRegistered = false;
      this.logger.log(`deregistered ${this.label}`);
    } catch (err) {
      this.logger.error(`deregistering ${this.label} failed: ${(err as Error).message}`);
    }
  }
}
