import { ConsoleLogger } from '@nestjs/common';

/** Nest's startup chatter (module and route listings), dropped to keep the demo output readable. */
const QUIET_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestMicroservice']);

/** Nest's console logger, prefixed with the process name (`[provider-1]`), minus startup chatter. */
export class SampleLogger extends ConsoleLogger {
  constructor(name: string) {
    super({ prefix: name, logLevels: ['log', 'warn', 'error', 'fatal'] });
  }

  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest.at(-1);
    if (typeof context === 'string' && QUIET_CONTEXTS.has(context)) return;
    super.log(message, ...rest);
  }
}
