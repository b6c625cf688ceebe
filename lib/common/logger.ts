/**
 * The logging surface the Nest-free layers need. Nest's `Logger` satisfies it, so the Nest
 * classes pass theirs down; the default drops debug and verbose output.
 *
 * Levels: `warn`/`error` need an operator; `log` is a lifecycle event (listening, registered,
 * a registry outage over); `debug` is a detail of a failure already reported (the repeats of an
 * outage, the faults after a connection's first); `verbose` is routine traffic (every connection
 * state change), off unless asked for.
 */
export interface MsRpcLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string, stack?: string): void;
  debug?(message: string): void;
  verbose?(message: string): void;
}

/** Used when nothing is injected: warnings and errors to stderr, nothing else. */
export const consoleWarnLogger: MsRpcLogger = {
  log: () => undefined,
  warn: (m) => console.warn(`[ms-rpc] ${m}`),
  error: (m, stack) => console.error(`[ms-rpc] ${m}${stack ? `\n${stack}` : ''}`),
};

/**
 * Longest message the library logs. Nest's console logger adds about 75 characters (process id,
 * time, level, context), so a printed line stays within 300.
 */
export const MAX_LOG_MESSAGE = 220;

/** One line of at most `max` characters: line breaks become spaces, the rest is cut with a mark. */
export function clipLogLine(text: string, max = MAX_LOG_MESSAGE): string {
  const line = text.includes('\n') || text.includes('\r') ? text.replace(/\s*[\r\n]+\s*/g, ' ') : text;
  if (line.length <= max) return line;
  const mark = `... (${line.length} chars)`;
  return `${line.slice(0, Math.max(0, max - mark.length))}${mark}`;
}

/** A stack keeps its lines (each cut to the limit); at most 20 of them. */
function clipStack(stack: string): string {
  const lines = stack.split('\n');
  const kept = lines.slice(0, 20).map((l) => clipLogLine(l));
  if (lines.length > kept.length) kept.push(`    ... ${lines.length - kept.length} more lines`);
  return kept.join('\n');
}

/**
 * Text a peer chose (a pattern, a reason in a go-away or error frame, a Nacos message type), for a
 * log line: quoted, so it cannot pass for our own words, and cut to `max` characters.
 */
export function quotePeer(text: unknown, max = 80): string {
  const s = typeof text === 'string' ? text : String(text);
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);
}

/**
 * The one place every library log line goes through: each message becomes one line of at most
 * {@link MAX_LOG_MESSAGE} characters, whatever a peer, a registry or a dependency put in it.
 * The components that take a logger from outside (server, client, registries, module) wrap it
 * once; wrapping twice is a no-op. Extra arguments (Nest's context) pass through.
 */
export class BoundedLogger implements MsRpcLogger {
  private constructor(private readonly inner: MsRpcLogger) {}

  static wrap(logger: MsRpcLogger): BoundedLogger {
    return logger instanceof BoundedLogger ? logger : new BoundedLogger(logger);
  }

  log(message: string, ...rest: unknown[]): void {
    call(this.inner, 'log', message, rest);
  }

  warn(message: string, ...rest: unknown[]): void {
    call(this.inner, 'warn', message, rest);
  }

  error(message: string, stack?: string, ...rest: unknown[]): void {
    const args = stack === undefined ? rest : [typeof stack === 'string' ? clipStack(stack) : stack, ...rest];
    call(this.inner, 'error', message, args);
  }

  debug(message: string, ...rest: unknown[]): void {
    call(this.inner, 'debug', message, rest);
  }

  verbose(message: string, ...rest: unknown[]): void {
    call(this.inner, 'verbose', message, rest);
  }

  /** Nest's `LoggerService.fatal`, for when this stands in for a Nest logger. */
  fatal(message: string, ...rest: unknown[]): void {
    call(this.inner, 'fatal', message, rest);
  }
}

type Level = 'log' | 'warn' | 'error' | 'debug' | 'verbose' | 'fatal';

function call(logger: MsRpcLogger, level: Level, message: unknown, rest: unknown[]): void {
  const methods = logger as unknown as Record<Level, ((...args: unknown[]) => void) | undefined>;
  // A logger without this level drops it (fatal falls back to error).
  const target = methods[level] ?? (level === 'fatal' ? methods.error : undefined);
  if (!target) return;
  target.call(logger, typeof message === 'string' ? clipLogLine(message) : message, ...rest);
}

/** {@link BoundedLogger.wrap}: the form the components use. */
export function boundedLogger(logger: MsRpcLogger): MsRpcLogger {
  return BoundedLogger.wrap(logger);
}

/** One line about something thrown (which need not be an Error), cut short for logs. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
