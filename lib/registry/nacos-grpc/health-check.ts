import type { Clock, TimerHandle } from '../../common/clock.js';

export interface HealthCheckTimings {
  healthCheckInterval: number;
  healthCheckRetries: number;
}

/**
 * The Java client's connection liveness (`RpcClient` health check): every `healthCheckInterval`,
 * if nothing succeeded on the connection for that long (a call answered, a push received), it
 * sends HealthCheck (unary), retrying up to `healthCheckRetries` times after random pauses of up
 * to 500 ms; when every try fails, the connection is declared dead. The probe and the verdict are
 * injected, so this holds only the cadence.
 */
export class HealthCheck {
  private lastActive: number;
  private timer: TimerHandle | undefined;
  private running = false;
  private stopped = true;

  constructor(
    private readonly timings: HealthCheckTimings,
    private readonly clock: Clock,
    /** One HealthCheck request; resolves true on a 200 answer. Never rejects. */
    private readonly probe: () => Promise<boolean>,
    private readonly onDead: () => void,
    private readonly random: () => number = Math.random,
  ) {
    this.lastActive = clock.now();
  }

  start(): void {
    this.stopped = false;
    this.lastActive = this.clock.now();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Something succeeded on the connection: no HealthCheck is needed for another interval. */
  markActive(): void {
    this.lastActive = this.clock.now();
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.tick(), this.timings.healthCheckInterval);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    if (this.clock.now() - this.lastActive < this.timings.healthCheckInterval) return this.arm();
    this.running = true;
    try {
      for (let attempt = 0; attempt <= this.timings.healthCheckRetries; attempt++) {
        if (attempt > 0) await this.pause(Math.floor(this.random() * 500));
        if (this.stopped) return;
        if (await this.probe()) {
          this.markActive();
          return this.arm();
        }
      }
      if (!this.stopped) {
        this.stop();
        this.onDead();
      }
    } finally {
      this.running = false;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        resolve();
      }, ms);
    });
  }
}
