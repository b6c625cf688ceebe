import { fork, type ChildProcess } from 'node:child_process';
import { childEntry } from './ts-child-entry.js';

/** What the soak learns from its provider children. */
export interface ProviderSink {
  /** Handlers started for these call ids on `slot`. */
  onExecuted(slot: number, ids: readonly string[]): void;
  /** A warning or error the child logged. */
  onLog(slot: number, level: string, message: string): void;
}

export interface ProviderLaunch {
  nacosAddress: string;
  service: string;
  beatMs: number;
  shutdownTimeoutMs: number;
}

/** A start that failed; `code` is the errno code when the listen failed (e.g. 'EADDRINUSE'). */
export class ProviderStartError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ProviderStartError';
  }
}

type ChildMessage =
  | { type: 'ready'; port: number }
  | { type: 'exec'; ids: string[] }
  | { type: 'log'; level: string; message: string }
  | { type: 'error'; message: string; code?: string };

const START_TIMEOUT_MS = 20_000;
/** A graceful stop drains for up to shutdownTimeout; past this much more it is killed. */
const TERMINATE_EXTRA_MS = 5000;

/**
 * One provider slot of the soak: a child process (scripts/soak-provider.ts) that can be started,
 * SIGKILLed, SIGSTOPped/SIGCONTed and SIGTERMed (graceful), then started again on the same port or
 * a new one. Never leaves a process behind: {@link dispose} SIGCONTs and kills whatever runs.
 */
export class SoakProviderProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private boundPort: number | undefined;
  private frozen = false;
  /** Processes started in this slot (the first one included). */
  starts = 0;

  constructor(
    readonly slot: number,
    private readonly launch: ProviderLaunch,
    private readonly sink: ProviderSink,
  ) {}

  /** The port of the running process, or of the last one. */
  get port(): number | undefined {
    return this.boundPort;
  }

  get address(): string | undefined {
    return this.boundPort === undefined ? undefined : `127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  get paused(): boolean {
    return this.frozen && this.running;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** Starts a process listening on `port` (0: any free port); resolves with the bound port. */
  start(port: number): Promise<number> {
    if (this.running) return Promise.reject(new ProviderStartError(`slot ${this.slot} is already running`));
    const { script, execArgv } = childEntry(import.meta.url, '../../scripts/soak-provider');
    const env = { ...process.env };
    // jest runs with --experimental-vm-modules; the child is a plain node process.
    delete env.NODE_OPTIONS;
    const l = this.launch;
    const child = fork(
      script,
      ['--nacos', l.nacosAddress, '--service', l.service, '--port', String(port), '--beat', String(l.beatMs), '--shutdown', String(l.shutdownTimeoutMs)],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, env },
    );
    this.child = child;
    this.frozen = false;
    this.starts++;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.on('error', () => undefined);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'exec') this.sink.onExecuted(this.slot, m.ids);
      else if (m.type === 'log') this.sink.onLog(this.slot, m.level, m.message);
    });
    return new Promise<number>((resolve, reject) => {
      const done = (err?: ProviderStartError, bound?: number) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) {
          void this.kill();
          reject(err);
        } else {
          this.boundPort = bound;
          resolve(bound!);
        }
      };
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'ready') done(undefined, m.port);
        else if (m.type === 'error') done(new ProviderStartError(`provider ${this.slot} failed to start: ${m.message}`, m.code));
      };
      const onExit = (code: number | null, signal: string | null) =>
        done(new ProviderStartError(`provider ${this.slot} exited while starting (${code ?? signal})`));
      const timer = setTimeout(
        () => done(new ProviderStartError(`provider ${this.slot} did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  /** SIGKILL (a crash: the kernel resets every socket, nothing deregisters); waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await this.exited;
  }

  /** SIGSTOP: the kernel still accepts and buffers, the process answers nothing (not even pings). */
  pause(): void {
    if (!this.running) return;
    this.frozen = true;
    this.child!.kill('SIGSTOP');
  }

  resume(): void {
    if (!this.frozen) return;
    this.frozen = false;
    if (this.running) this.child!.kill('SIGCONT');
  }

  /**
   * SIGTERM: the provider deregisters, sends go-away, drains in-flight calls and exits. Resolves
   * with how long that took; a process that hangs past the drain is killed (`graceful: false`).
   */
  async terminate(): Promise<{ ms: number; graceful: boolean }> {
    const child = this.child;
    const started = performance.now();
    if (!child || !this.running) return { ms: 0, graceful: true };
    this.resume();
    child.kill('SIGTERM');
    let graceful = true;
    const timer = setTimeout(() => {
      graceful = false;
      child.kill('SIGKILL');
    }, this.launch.shutdownTimeoutMs + TERMINATE_EXTRA_MS);
    await this.exited;
    clearTimeout(timer);
    return { ms: performance.now() - started, graceful: graceful && child.exitCode === 0 };
  }

  /** End of the soak: a graceful stop when possible, a kill otherwise. */
  async dispose(): Promise<void> {
    if (this.running) await this.terminate();
    await this.kill();
  }
}
