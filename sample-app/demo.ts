/**
 * The demo driver: plain HTTP requests (node's fetch) against the gateway, each printed with its
 * answer. Throws when an answer is not the expected one, so `npm start` fails loudly.
 */
const print = (line = '') => console.log(line);

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

async function request(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (the metrics endpoint): keep the text.
  }
  return { status: response.status, body: parsed, text };
}

/** Sends one request, prints it and its answer, and checks the status code. */
async function show(base: string, method: 'GET' | 'POST', path: string, expected: number, body?: unknown): Promise<Answer> {
  print(`> ${method} ${path}${body === undefined ? '' : ` ${JSON.stringify(body)}`}`);
  const answer = await request(base, method, path, body);
  print(`< ${answer.status} ${JSON.stringify(answer.body)}`);
  if (answer.status !== expected) throw new Error(`${method} ${path}: expected HTTP ${expected}, got ${answer.status}`);
  return answer;
}

interface HealthBody {
  status: string;
  details?: { rpc?: { services?: Record<string, { ready: number }> } };
}

/** Polls /health until both providers are ready (clients connect in the background). */
async function waitForProviders(base: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { body } = await request(base, 'GET', '/health');
    const ready = (body as HealthBody).details?.rpc?.services?.math?.ready ?? 0;
    if (ready >= count) return;
    if (performance.now() > deadline) throw new Error(`only ${ready} of ${count} providers ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function runDemo(base: string, providerCount: number): Promise<void> {
  await waitForProviders(base, providerCount, 15_000);

  print('\n--- request/response, spread over the providers (round-robin) ---');
  const servedBy = new Set<string>();
  for (const numbers of ['1,2,3', '4,5,6', '10,20', '7']) {
    const { body } = await show(base, 'GET', `/sum?numbers=${numbers}`, 200);
    servedBy.add((body as { servedBy: string }).servedBy);
  }
  print(`answered by: ${[...servedBy].sort().join(', ')}`);
  if (servedBy.size !== providerCount) throw new Error(`expected answers from ${providerCount} providers, got ${servedBy.size}`);

  print('\n--- a streamed response, collected by the gateway ---');
  const countdown = await show(base, 'GET', '/countdown/3', 200);
  if (JSON.stringify(countdown.body) !== '{"values":[3,2,1]}') throw new Error('unexpected countdown');

  print('\n--- an event (fire and forget; a provider logs it) ---');
  await show(base, 'POST', '/audit', 202, { user: 'alice', action: 'login' });

  print('\n--- an RpcException from the provider becomes HTTP 400 ---');
  await show(base, 'GET', '/divide?a=10&b=4', 200);
  const refused = await show(base, 'GET', '/divide?a=1&b=0', 400);
  if ((refused.body as { code?: string }).code !== 'DIVISION_BY_ZERO') throw new Error('unexpected divide error');

  print('\n--- health (Terminus) ---');
  await show(base, 'GET', '/health', 200);

  print('\n--- metrics (Prometheus text), excerpt ---');
  print('> GET /metrics');
  const metrics = await request(base, 'GET', '/metrics');
  if (metrics.status !== 200) throw new Error(`GET /metrics: HTTP ${metrics.status}`);
  const excerpt = metrics.text
    .split('\n')
    .filter((line) => /^msrpc_(calls_(started|succeeded|failed)_total|connections_open)\{/.test(line));
  for (const line of excerpt) print(`  ${line}`);
  const sumProviders = excerpt.filter((l) => l.startsWith('msrpc_calls_succeeded_total{pattern="math.sum"')).length;
  if (sumProviders !== providerCount) throw new Error(`metrics: math.sum answered by ${sumProviders} providers`);
  print();
}
