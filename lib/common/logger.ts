/**
 * The logging surface the Nest-free layers need. Nest's `Logger` satisfies it, so the Nest
 * classes pass theirs down; the default drops debug output.
 */
export interface MsRpcLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string, stack?: string): void;
  debug?(message: string): void;
}

/** Used when nothing is injected: warnings and errors to stderr, nothing else. */
export const consoleWarnLogger: MsRpcLogger = {
  log: () => undefined,
  warn: (m) => console.warn(`[ms-rpc] ${m}`),
  error: (m, stack) => console.error(`[ms-rpc] ${m}${stack ? `\n${stack}` : ''}`),
};

/** One line about something thrown (which need not be an Error), cut short for logs. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
