import 'reflect-metadata';
import { ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';

/**
 * The whole demo in one command: starts the provider microservice in its own process (any free
 * port), runs the consumer against it, then stops the provider gracefully.
 *
 * - `node dist/sample-app/main.js`: direct mode (static address, no registry).
 * - `node dist/sample-app/main.js --nacos`: Nacos mode. Uses NACOS_SERVER when set (a real Nacos),
 *   otherwise starts this project's Nacos test server on a free loopback port.
 */
const logger = new Logger('SampleApp');
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const nacosMode = process.argv.includes('--nacos');
const children: ChildProcess[] = [];

async function startNacosTestServer(): Promise<string> {
  const child = fork(entry('../scripts/nacos-test-server.js'), ['0'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /serverList: '([^']+)'/.exec(chunk.toString());
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`nacos test server exited with code ${code}`)));
  });
}

async function startProvider(): Promise<number> {
  const child = fork(entry('./provider/main.js'), [], {
    env: { ...process.env, SAMPLE_PROVIDER_PORT: process.env.SAMPLE_PROVIDER_PORT ?? '0' },
  });
  children.push(child);
  return new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port?: number }) => (m?.port ? resolve(m.port) : reject(new Error('bad ready message'))));
    child.once('exit', (code) => reject(new Error(`provider exited early with code ${code}`)));
  });
}

async function stopChildren(): Promise<void> {
  // Provider first (it deregisters from Nacos on the way out), then the Nacos test server.
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

let failed = false;
try {
  if (nacosMode) {
    process.env.NACOS_SERVER ??= await startNacosTestServer();
    logger.log(`Nacos mode: registry at ${process.env.NACOS_SERVER}`);
  }
  const port = await startProvider();
  logger.log(`provider is up on 127.0.0.1:${port}; starting the consumer (${nacosMode ? 'Nacos discovery' : 'direct mode'})`);
  process.env.SAMPLE_PROVIDERS = `127.0.0.1:${port}`;
  const { runConsumer } = await import('./consumer/main.js');
  await runConsumer();
  logger.log('demo finished: request/response, stream, event and error all went through');
} catch (err) {
  failed = true;
  logger.error(`demo failed: ${(err as Error).stack ?? err}`);
} finally {
  await stopChildren();
}
process.exitCode = failed ? 1 : 0;
