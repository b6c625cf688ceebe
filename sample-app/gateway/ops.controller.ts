import { Controller, Get, Header } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { MsRpcHealthIndicator } from '../../lib/health/index.js';
import { RpcMetrics } from '../../lib/index.js';

/** Readiness and metrics of the RPC layer. */
@Controller()
export class OpsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly rpcHealth: MsRpcHealthIndicator,
    private readonly metrics: RpcMetrics,
  ) {}

  /** 200 while every required service has a ready provider, 503 otherwise (Terminus format). */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.rpcHealth.isHealthy('rpc')]);
  }

  /** Prometheus text format: calls, errors, latency histograms, connections per provider. */
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): string {
    return this.metrics.toPrometheus();
  }
}
