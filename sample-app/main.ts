import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NacosGrpcTestServer } from '../lib/testing/index.js';
import { TraceCollector, formatTraceTree, type SpanRecord } from './common/trace-tree.js';
import { runDeadlineDemo } from './deadline-demo.js';
import { runDemo } from './demo.js';

/**
 * The whole sample in one command: two "math" provider processes, the HTTP gateway in front of
 * them, then the demo (HTTP requests against the gateway), then a graceful shutdown. Exits 0
 * when every answer was the expected one and every process stopped cleanly.
 *
 *   node dist/sample-app/main.js                   direct mode: the gateway lists the providers
 *   node dist/sample-app/main.js --nacos           Nacos mode: providers register, the gateway
 *                                                  discovers them (NACOS_SERVER when set, else
 *                                                  this project's Nacos test server on loopback)
 *   node dist/sample-app/main.js --serve [--nacos] no demo: keeps running until Ctrl-C (providers
 *                                                  on 4100 and 4101, stats on 4102, gateway on
 *                                                  GATEWAY_PORT, default 3000)
 *
 * The "math" providers call a third service, "stats" (gateway → math → stats). With SAMPLE_TRACING
 * set, every process is started with OpenTelemetry (common/tracing-preload.ts, through
 * `node --import`) and sends its spans here: the demo prints the trace of one request as a tree
 * (with --serve, every trace).
 */
const nacosMode = process.argv.includes('--nacos');
const serveMode = process.argv.includes('--serve');
const PROVIDERS = ['provider-1', 'provider-2'];
const traces = process.env.SAMPLE_TRACING ? new TraceCollector() : undefined;
const tracingPreload = fileURLToPath(new URL('./common/tracing-preload.js', import.meta.url));
const say = (line: string) => console.log(`[sample] ${line}`);
const entry = (path: string) => fileURLToPath(new URL(path, import.meta.url));

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | string>;
}

const children: Child[] = [];

/** Forks a sample process and resolves with the port it reports once ready. */
function start(name: string, path: string, env: Record<string, string>): Promise<number> {
  const child = fork(entry(path), [], {
    env: { ...process.env, ...env, SAMPLE_PROCESS_NAME: name },
    execArgv: traces ? [...process.execArgv, '--import', tracingPreload] : process.execArgv,
  });
  if (traces) child.on('message', (m: { span?: SpanRecord }) => m?.span && collect(m.span));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  children.push({ name, process: child, exited });
  return new Promise<number>((resolve, reject) => {
    child.once('message', (m: { ready?: boolean; port?: number }) =>
      m?.ready && m.port ? resolve(m.port) : reject(new Error(`${name}: unexpected message ${JSON.stringify(m)}`)),
    );
    void exited.then((code) => reject(new Error(`${name} exited before it was ready (${code})`)));
  });
}

/** SIGTERM, newest first (gateway, then providers, then stats); a process that hangs is killed after 15 s. */
async function stopChildren(): Promise<boolean> {
  let clean = true;
  for (const child of [...children].reverse()) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
    const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
    const code = await child.exited;
    clearTimeout(timer);
    if (code !== 0) {
      clean = false;
      say(`${child.name} exited with ${code}`);
    }
  }
  return clean;
}

/** Keeps a span; with --serve, prints each trace once its root (the gateway's HTTP span) has ended. */
function collect(span: SpanRecord): void {
  traces!.add(span);
  if (serveMode && !span.parentId) {
    setTimeout(() => console.log(`trace ${span.traceId}:\n${formatTraceTree(traces!.spans(span.traceId))}`), 200).unref();
  }
}

let nacos: NacosGrpcTestServer | undefined;
let failed = false;
try {
  const env: Record<string, string> = {};
  if (nacosMode) {
    if (!process.env.NACOS_SERVER) {
      // Nacos's native gRPC protocol (the default `protocol`): main port P, gRPC on P + 1000.
      nacos = new NacosGrpcTestServer({ pushDelayMs: 100 });
      await nacos.start();
      env.NACOS_SERVER = nacos.address;
      say(`Nacos mode: started the Nacos gRPC test server (serverList ${nacos.address}, gRPC port ${nacos.grpcPort})`);
    } else {
      say(`Nacos mode: registry at ${process.env.NACOS_SERVER}`);
    }
  }
  // The third service first: the providers call it.
  const statsPort = await start('stats', './stats/main.js', { ...env, STATS_PORT: serveMode ? '4102' : '0' });
  const providerEnv = nacosMode ? env : { ...env, STATS_PROVIDERS: `127.0.0.1:${statsPort}` };
  const ports: number[] = [];
  for (const [i, name] of PROVIDERS.entries()) {
    // Fixed ports when serving (the gateway can then also be run on its own), free ones for the demo.
    const port = serveMode ? 4100 + i : 0;
    ports.push(await start(name, './provider/main.js', { ...providerEnv, PROVIDER_NAME: name, PROVIDER_PORT: String(port) }));
  }
  say(`providers up on ${ports.map((p) => `127.0.0.1:${p}`).join(' and ')}, stats on 127.0.0.1:${statsPort}`);
  const gatewayEnv = nacosMode ? env : { MATH_PROVIDERS: ports.map((p) => `127.0.0.1:${p}`).join(',') };
  const gatewayPort = process.env.GATEWAY_PORT ?? (serveMode ? '3000' : '0');
  const port = await start('gateway', './gateway/main.js', { ...gatewayEnv, GATEWAY_PORT: gatewayPort });
  const base = `http://127.0.0.1:${port}`;
  say(`gateway up on ${base} (${nacosMode ? 'Nacos discovery' : 'direct mode'})`);

  if (serveMode) {
    say(`try: curl '${base}/sum?numbers=1,2,3'  ${base}/countdown/5  '${base}/divide?a=1&b=0'  '${base}/mean?numbers=2,4,9'  ${base}/health  ${base}/metrics`);
    say('Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } else {
    await runDemo(base, PROVIDERS.length);
    await runDeadlineDemo(base, traces);
    say('demo finished: request/response, stream, event, error mapping, health, metrics and a deadline across services all went through');
  }
} catch (err) {
  failed = true;
  say(`failed: ${(err as Error).stack ?? err}`);
} finally {
  say('stopping the gateway, then the providers');
  if (!(await stopChildren())) failed = true;
  await nacos?.stop();
}
process.exitCode = failed ? 1 : 0;
