import { fork } from 'node:child_process';
import { childReady } from './child-ready.js';
import { childEntry } from './ts-child-entry.js';

const ENTRY = childEntry(import.meta.url, './nacos-grpc-child-main');

/** A child process holding one gRPC Nacos registration (see nacos-grpc-child-main.ts). */
export interface GrpcRegisteredChild {
  readonly port: number;
  pause(): void;
  /** SIGKILL (after SIGCONT) and wait for the exit. Safe to call twice. */
  kill(): Promise<void>;
}

export async function startGrpcRegisteredChild(serverList: string, service: string, registryOptions: object = {}): Promise<GrpcRegisteredChild> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = fork(ENTRY.script, [serverList, service, JSON.stringify({ protocol: 'grpc', ...registryOptions })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ENTRY.execArgv,
    env,
  });
  const port = await childReady(child, 'gRPC registry child', 20_000);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    pause: () => void child.kill('SIGSTOP'),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}
