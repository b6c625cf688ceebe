import { firstValueFrom } from 'rxjs';
import type { MsRpcClient } from '../../lib/index.js';
import { sleep } from './nacos-test-helpers.js';

export interface LoopResult {
  ok: number;
  failures: Array<{ at: number; error: unknown }>;
  /** Answers by provider name, with their time, oldest first. */
  answers: Array<{ at: number; provider: string }>;
}

/**
 * `concurrency` callers each sending `whoami` back to back (with a short pause) until stop(), so
 * the consumer is never idle during the scenario. Never throws: failures are collected.
 */
export function callLoop(client: MsRpcClient, concurrency = 4, pauseMs = 5) {
  const result: LoopResult = { ok: 0, failures: [], answers: [] };
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      try {
        const provider = await firstValueFrom(client.send<string>('whoami', {}));
        result.ok++;
        result.answers.push({ at: Date.now(), provider });
      } catch (error) {
        result.failures.push({ at: Date.now(), error });
      }
      await sleep(pauseMs);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    result,
    /** Providers that answered since `since` (Date.now() value). */
    answeredSince(since: number): Set<string> {
      return new Set(result.answers.filter((a) => a.at >= since).map((a) => a.provider));
    },
    async stop(): Promise<LoopResult> {
      stopped = true;
      await Promise.all(workers);
      return result;
    },
  };
}
