import type { INestApplicationContext, LoggerService } from '@nestjs/common';

/**
 * Graceful stop of a sample process: `app.close()` (a provider deregisters, drains in-flight
 * calls and closes the registry client; the gateway closes its clients), then exit.
 *
 * Started by sample-app/main.ts (an IPC channel exists), the process ignores SIGINT: Ctrl-C in a
 * terminal reaches every process of the group at once, and the launcher stops them in order with
 * SIGTERM (gateway first, then providers). It also stops if the launcher goes away.
 */
export function closeOnSignals(app: INestApplicationContext, logger: LoggerService): void {
  const launched = typeof process.send === 'function';
  let closing = false;
  const close = (why: string) => {
    if (closing) return;
    closing = true;
    logger.log(`${why}: shutting down`, 'Shutdown');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error(`shutdown failed: ${(err as Error)?.stack ?? err}`, undefined, 'Shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => close('SIGTERM'));
  if (launched) {
    process.on('SIGINT', () => undefined);
    process.once('disconnect', () => close('launcher gone'));
  } else {
    process.once('SIGINT', () => close('SIGINT'));
  }
}

/** Tells the launcher (if any) that the process is ready, and on which port. */
export function reportReady(port: number): void {
  process.send?.({ ready: true, port });
}
