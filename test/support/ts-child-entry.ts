import { fileURLToPath } from 'node:url';

/** How to start a child process's entry module from the caller's point of view. */
export interface ChildEntry {
  /** Absolute path of the entry file. */
  script: string;
  /** Node flags the child needs before `script` (the TypeScript hooks, or none). */
  execArgv: string[];
}

/**
 * Resolves a child entry next to the caller: the compiled `.js` when the caller itself runs compiled
 * (`npm run soak`, `npm run fuzz`), or the `.ts` source run through ts-hooks.mjs (swc, as jest
 * compiles) when the caller runs from source under jest, so tests that fork children need no build.
 *
 * @param callerUrl the caller's `import.meta.url`
 * @param entry the entry's path relative to the caller, without extension (e.g. `./fuzz-server-main`)
 */
export function childEntry(callerUrl: string, entry: string): ChildEntry {
  if (!callerUrl.endsWith('.ts')) {
    return { script: fileURLToPath(new URL(`${entry}.js`, callerUrl)), execArgv: [] };
  }
  const hooks = new URL('./ts-hooks.mjs', import.meta.url).href;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(hooks)});`;
  return {
    script: fileURLToPath(new URL(`${entry}.ts`, callerUrl)),
    execArgv: ['--import', `data:text/javascript,${encodeURIComponent(register)}`],
  };
}
