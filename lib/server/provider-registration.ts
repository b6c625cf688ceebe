import { Clock, systemClock, TimerHandle } from '../common/clock.js';
import { MsRpcLogger } from '../common/logger.js';
import { ExponentialBackoff } from '../liveness/backoff.js';
import type { Registration } from '../registry/registration.js';
import type { Registry } from '../registry/registry.js';

/**
 * Keeps one provider registered: registers in the background once the server listens,
 * retrying with backoff for as long as the registry refuses (a registry outage at startup
 * must never crash or block the server), and deregisters on stop.
 */
export class ProviderRegistration {
  private readonly backoff: ExponentialBackoff;
  private timer: TimerHandle | undefined;
  private attempt: Promise<void> | undefined;
  private stopped = false;
  private isRegistered = false;
  /** A register() call was made, successful or not. */
  private attempted = false;

  constructor(
    private readonly registry: Registry,
    readonly registration: Registration,
    private readonly logger: MsRpcLogger,
    private readonly clock: Clock = systemClock,
    /** Unlimited attempts: the provider keeps trying until the registry comes back. */
    backoff = new ExponentialBackoff({ initialDelay: 500, maxDelay: 30_000, maxAttempts: 0 }),
  ) {
    this.backoff = backoff;
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
    this.attempt = this.registry.register(this.registration).then(
      () => {
        this.attempt = undefined;
        // Recorded even when stopping, so stop() deregisters a registration that landed late.
        this.isRegistered = true;
        if (this.stopped) return;
        this.backoff.reset();
        this.logger.log(`registered ${this.label}`);
      },
      (err: Error) => {
        this.attempt = undefined;
        if (this.stopped) return;
        const delay = this.backoff.next() ?? 30_000;
        this.logger.error(
          `registering ${this.label} failed (attempt ${this.backoff.attempt}): ${err.message}; retrying in ${Math.round(delay)} ms`,
        );
        this.timer = this.clock.setTimeout(() => {
          this.timer = undefined;
          this.start();
        }, delay);
      },
    );
  }

  /**
   * Stops retrying and deregisters (waiting for an attempt in flight first, so a registration
   * that lands during shutdown is still removed). Never throws: failures are logged.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.attempt) await this.attempt;
    // Deregister after a FAILED register() too: a registry may keep acting on it in the background.
    // The Nacos client starts beating for an instance before its register request (and keeps beating
    // when that request fails), and Nacos re-registers an unknown instance from a beat: a provider
    // stopped during a Nacos outage used to re-appear, dead, once Nacos came back, for as long as its
    // registry stayed open. Deregistering is what stops those beats.
    if (!this.isRegistered && !this.attempted) return;
    try {
      await this.registry.deregister(this.registration);
      this.isRegistered = false;
      this.logger.log(`deregistered ${this.label}`);
    } catch (err) {
      this.logger.error(`deregistering ${this.label} failed: ${(err as Error).message}`);
    }
  }
}
