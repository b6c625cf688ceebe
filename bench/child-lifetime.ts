/**
 * Child side of every bench child (servers, clients, idle clients): exit when told to or when the
 * parent goes away, so no child outlives a run (the parent side is child-processes.ts).
 */

const CLOSE_GRACE_MS = 2000;

/**
 * Installs the exit triggers and returns `exit(code)`, which runs `close()` once and then exits.
 * `what` names the script for the message when it is run by hand instead of forked.
 */
export function exitWithParent(what: string, close: () => Promise<void> | void): (code: number) => void {
  if (!process.send) {
    console.error(`${what} is started by bench/run.ts via child_process.fork`);
    process.exit(2);
  }
  let exiting = false;
  const exit = (code: number): void => {
    if (exiting) return;
    exiting = true;
    // A hung close must not keep the process alive.
    setTimeout(() => process.exit(code), CLOSE_GRACE_MS).unref();
    Promise.resolve()
      .then(close)
      .catch(() => undefined)
      .finally(() => process.exit(code));
  };
  // The IPC channel closes when the parent exits for any reason, including SIGKILL.
  process.on('disconnect', () => exit(0));
  // Handled rather than default-killed: process.exit() is what lets `--cpu-prof` write its profile.
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));
  return exit;
}
