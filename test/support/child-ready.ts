import type { ChildProcess } from 'node:child_process';

/**
 * Waits for a provider child's `{ type: 'ready', port }` IPC message and resolves with the port.
 * An exit, a spawn error, an `{ type: 'error', message }` report or `timeoutMs` without a report
 * kill the child (SIGKILL) and reject, so a failed start never leaves a process behind.
 *
 * @param what names the child in error messages (e.g. `child provider`)
 */
export function childReady(child: ChildProcess, what: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${what} did not report ready in ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`${what} exited early (${code ?? signal})`)));
    child.once('message', (msg: { type: string; port?: number; message?: string }) => {
      if (msg.type !== 'ready' || typeof msg.port !== 'number') return fail(new Error(`${what} failed: ${msg.message}`));
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      // Later errors (e.g. a kill racing an exit) are the owner's to ignore, not uncaught.
      child.on('error', () => undefined);
      resolve(msg.port);
    });
  });
}
