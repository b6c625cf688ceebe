import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { MsRpcClient, RequestCancelledError, RpcTimeoutError } from '../../lib/index.js';
import { MessageType } from '../../lib/protocol/frame-header.js';
import type { HelloSettings, Message, RequestMessage } from '../../lib/protocol/message.js';
import { startChain, type Chain } from '../support/call-chain.js';
import { startHandWrittenServer } from '../support/hand-written-server.js';
import { recordingLogger, sleep, timed, waitUntil } from '../support/loopback-utils.js';
import { wirePeer } from '../support/wire-peer.js';

/**
 * Issue 18, items 1 and 2: the caller's remaining budget travels with each request, a handler sees
 * it (`ctx.remainingMs()`), and the calls it makes inherit it and its cancellation with no
 * plumbing, through real servers: A (a client) → B (a service calling C from its handlers) → C.
 */
describe('deadlines and cancellation across services (A → B → C)', () => {
  let chain: Chain | undefined;
  const report: string[] = [];
  afterEach(async () => {
    await chain?.close();
    chain = undefined;
  });
  afterAll(() => {
    process.stdout.write(`\ndeadline propagation report\n${report.map((l) => `  ${l}`).join('\n')}\n`);
  });

  it("a 300 ms budget at A: B and C see what is left of it (C <= 300 ms), though B's client of C has a 3 s timeout", async () => {
    chain = await startChain();
    const a = chain.clientOfB({ timeout: 300 });
    await a.connect();
    await chain.bToC.connect();
    const answer = (await a.call('b.work', { id: 'budget', ms: 20 })) as { b: number; c: { remaining: number } };
    const atB = chain.b.probe.seen.get('budget')!;
    const atC = chain.c.probe.seen.get('budget')!;
    report.push(`budget 300 ms at A: B saw ${atB.remaining!.toFixed(1)} ms left, C saw ${atC.remaining!.toFixed(1)} ms left`);
    expect(atB.remaining).toBeLessThanOrEqual(300);
    expect(atB.remaining).toBeGreaterThan(200);
    // B waited 20 ms, then its call took what was left minus the 5 ms margin.
    expect(atC.remaining).toBeLessThanOrEqual(300 - 20 - 5);
    expect(atC.remaining).toBeGreaterThan(150);
    expect(answer.c.remaining).toBe(atC.remaining);
    // The deadline as a date agrees with the budget (same host: same wall clock).
    expect(Math.abs(atC.deadlineIn! - atC.remaining!)).toBeLessThan(20);
    // No budget or deadline key reaches user code through the metadata.
    expect(atC.metadata).toBeUndefined();
  });

  it('an inherited budget that runs out fails the nested call with an RpcTimeoutError saying it was inherited', async () => {
    // deadlineMargin 50: B's call gives up 50 ms before B's own caller does, so B can still answer.
    chain = await startChain({ bToC: { deadlineMargin: 50 } });
    const a = chain.clientOfB({ timeout: 300 });
    await a.connect();
    await chain.bToC.connect();
    // C takes 2 s; B's client of C would wait 3 s, but B's caller gave it 300 ms.
    const { value, ms } = await timed(a.call('b.work', { id: 'inherited', cMs: 2000 }));
    const atB = chain.b.probe.seen.get('inherited')!;
    expect(ms).toBeLessThan(300);
    expect(atB.nestedError).toBeInstanceOf(RpcTimeoutError);
    const error = atB.nestedError as RpcTimeoutError;
    expect(error.timeoutMs).toBeLessThanOrEqual(250);
    expect(error.timeoutMs).toBeGreaterThan(150);
    expect(error.message).toMatch(/deadline inherited from the handler of "b\.work": \d+ ms left of its caller's budget, minus deadlineMargin 50 ms/);
    expect((value as { nestedError: string }).nestedError).toMatch(/^RpcTimeoutError: Call to "c\.work" timed out after \d+ ms \(provider 127\.0\.0\.1:\d+\) \[deadline inherited/);
    // C was told to stop when B's call timed out: its signal says so.
    const atC = chain.c.probe.seen.get('inherited')!;
    await waitUntil(() => atC.abortedAt !== undefined, 2000, "C's signal");
    expect((atC.abortReason as RequestCancelledError).kind).toMatch(/client-cancel|deadline-exceeded/);
  });

  it('cancelling A (unsubscribe) aborts the handlers of B and C within 50 ms; B\'s nested call fails with a typed error', async () => {
    chain = await startChain();
    const a = chain.clientOfB({ timeout: 5000 });
    await a.connect();
    await chain.bToC.connect();
    const sub = a.send('b.work', { id: 'cancel', untilAborted: true }).subscribe({ error: () => undefined });
    await waitUntil(() => chain!.c.probe.seen.has('cancel'), 2000, "C's handler to start");
    const cancelledAt = performance.now();
    sub.unsubscribe();
    const atB = chain.b.probe.seen.get('cancel')!;
    const atC = chain.c.probe.seen.get('cancel')!;
    await waitUntil(() => atB.abortedAt !== undefined && atC.abortedAt !== undefined, 2000, 'both signals');
    const toB = atB.abortedAt! - cancelledAt;
    const toC = atC.abortedAt! - cancelledAt;
    report.push(`cancellation latency: A unsubscribes -> B's signal ${toB.toFixed(1)} ms, C's signal (two hops) ${toC.toFixed(1)} ms`);
    expect(toB).toBeLessThan(50);
    expect(toC).toBeLessThan(50);
    expect(atB.abortReason).toBeInstanceOf(RequestCancelledError);
    expect((atB.abortReason as RequestCancelledError).kind).toBe('client-cancel');
    // C's handler was told by B's client, which cancelled the call B made when B was told to stop.
    expect((atC.abortReason as RequestCancelledError).kind).toBe('client-cancel');
    await waitUntil(() => atB.nestedError !== undefined, 2000, "B's nested call to fail");
    expect(atB.nestedError).toBeInstanceOf(RequestCancelledError);
    const nested = atB.nestedError as RequestCancelledError;
    expect(nested.kind).toBe('parent-cancelled');
    expect(nested.message).toMatch(/the handler of "b\.work" that made this call was told to stop/);
    expect(nested.cause).toBe(atB.abortReason);
  });

  it('a spent budget fails the nested call at once, with nothing sent to C', async () => {
    // The margin (400 ms) exceeds what B's caller gave it (300 ms): the budget is spent on arrival.
    chain = await startChain({ bToC: { deadlineMargin: 400 } });
    const a = chain.clientOfB({ timeout: 300 });
    await a.connect();
    await chain.bToC.connect();
    const answer = (await a.call('b.work', { id: 'spent' })) as { nestedError: string };
    const atB = chain.b.probe.seen.get('spent')!;
    expect(atB.nestedError).toBeInstanceOf(RpcTimeoutError);
    expect(answer.nestedError).toMatch(/the inherited time budget was spent before the call was sent \(nothing was sent\)/);
    expect(answer.nestedError).toMatch(/deadline inherited from the handler of "b\.work"/);
    // Failed at once: no round trip.
    expect(atB.nestedFailedAt! - atB.startedAt).toBeLessThan(20);
    await sleep(50);
    expect(chain.c.probe.seen.has('spent')).toBe(false);
    expect(chain.c.server.metrics!.snapshot().patterns.find((p) => p.pattern === 'c.work')).toBeUndefined();
  });

  it('a call made after its handler was told to stop (deadline passed) fails at once with parent-cancelled, nothing sent', async () => {
    chain = await startChain();
    const a = chain.clientOfB({ timeout: 100 });
    await a.connect();
    await chain.bToC.connect();
    // B ignores its signal for 200 ms, then calls C: its deadline passed 100 ms earlier.
    await expect(a.call('b.work', { id: 'late', stubbornMs: 200 })).rejects.toBeInstanceOf(RpcTimeoutError);
    const atB = chain.b.probe.seen.get('late')!;
    await waitUntil(() => atB.nestedError !== undefined, 2000, "B's nested call");
    expect((atB.abortReason as RequestCancelledError).kind).toMatch(/deadline-exceeded|client-cancel/);
    const nested = atB.nestedError as RequestCancelledError;
    expect(nested).toBeInstanceOf(RequestCancelledError);
    expect(nested.kind).toBe('parent-cancelled');
    expect(nested.cause).toBe(atB.abortReason);
    await sleep(50);
    expect(chain.c.probe.seen.has('late')).toBe(false);
  });

  it.each([
    ['the client option inheritDeadline: false', { client: { inheritDeadline: false } }],
    ["client.call()'s option inheritDeadline: false", { work: { detached: 'options' as const } }],
    ['MsRpcRecordBuilder.setInheritDeadline(false)', { work: { detached: 'record' as const } }],
  ])('opting out with %s: the nested call keeps its own timeout and outlives the cancel', async (_, how) => {
    chain = await startChain({ bToC: { timeout: 3000, ...('client' in how ? how.client : {}) } });
    const a = chain.clientOfB({ timeout: 300 });
    await a.connect();
    await chain.bToC.connect();
    const sub = a.send('b.work', { id: 'own', untilAborted: true, ...('work' in how ? how.work : {}) }).subscribe({ error: () => undefined });
    await waitUntil(() => chain!.c.probe.seen.has('own'), 2000, "C's handler");
    const atB = chain.b.probe.seen.get('own')!;
    const atC = chain.c.probe.seen.get('own')!;
    expect(atB.remaining).toBeLessThanOrEqual(300);
    expect(atC.remaining).toBeGreaterThan(2500);
    sub.unsubscribe();
    await waitUntil(() => atB.abortedAt !== undefined, 2000, "B's signal");
    await sleep(100);
    expect(atC.abortedAt).toBeUndefined();
    // Let C go (the nested call is B's client's, closed with the chain).
    await chain.bToC.close();
    await waitUntil(() => atC.abortedAt !== undefined, 2000, "C's signal on B's client's close");
  });

  it('an older client (a plain Request, no budget) still works: no deadline at B, C gets B\'s own client timeout', async () => {
    chain = await startChain();
    await chain.bToC.connect();
    const peer = track(await wirePeer(chain.b.port));
    await waitUntil(() => peer.received.some((m) => m.type === MessageType.Hello), 2000, "B's hello");
    const hello = peer.received.find((m) => m.type === MessageType.Hello) as Extract<Message, { type: MessageType.Hello }>;
    expect(hello.settings.deadlines).toBe(true);
    peer.send({ type: MessageType.Request, requestId: 1, pattern: 'b.work', data: { id: 'old-client' } });
    await waitUntil(() => peer.answers(1).length > 0, 3000, 'the answer');
    expect(peer.answers(1)[0]).toMatchObject({ type: MessageType.End, hasData: true, data: { c: { id: 'old-client' } } });
    const atB = chain.b.probe.seen.get('old-client')!;
    expect(atB.remaining).toBeUndefined();
    expect(atB.deadlineIn).toBeUndefined();
    const atC = chain.c.probe.seen.get('old-client')!;
    expect(atC.remaining).toBeLessThanOrEqual(3000);
    expect(atC.remaining).toBeGreaterThan(2800);
  });

  it('an older server (its Hello does not announce deadlines) gets plain Requests; a newer one gets the budget', async () => {
    for (const deadlines of [false, true]) {
      const fake = track(await fakeServer(deadlines));
      const client = track(new MsRpcClient({ providers: [`127.0.0.1:${fake.port}`], timeout: 1500, logger: recordingLogger() }));
      await expect(client.call('anything', { n: 1 })).resolves.toBe('answered');
      const request = fake.requests[0];
      expect(fake.frameTypes).toContain(deadlines ? MessageType.DeadlineRequest : MessageType.Request);
      expect(fake.frameTypes).not.toContain(deadlines ? MessageType.Request : MessageType.DeadlineRequest);
      if (deadlines) {
        expect(request.budgetMs).toBeLessThanOrEqual(1500);
        expect(request.budgetMs).toBeGreaterThan(1400);
      } else {
        expect(request.budgetMs).toBeUndefined();
      }
    }
  });

  it("the handler's signal aborts when the caller's budget runs out (deadline-exceeded), counted from the request's arrival", async () => {
    chain = await startChain();
    const peer = track(await wirePeer(chain.c.port));
    await waitUntil(() => peer.received.some((m) => m.type === MessageType.Hello), 2000, "C's hello");
    const sentAt = performance.now();
    peer.send({ type: MessageType.Request, requestId: 1, pattern: 'c.work', data: { id: 'expires', untilAborted: true }, budgetMs: 80 });
    await waitUntil(() => chain!.c.probe.seen.get('expires')?.abortedAt !== undefined, 2000, 'the abort');
    const atC = chain.c.probe.seen.get('expires')!;
    expect(atC.remaining).toBeLessThanOrEqual(80);
    const reason = atC.abortReason as RequestCancelledError;
    expect(reason).toBeInstanceOf(RequestCancelledError);
    expect(reason.kind).toBe('deadline-exceeded');
    const firedAfter = atC.abortedAt! - sentAt;
    expect(firedAfter).toBeGreaterThanOrEqual(75);
    expect(firedAfter).toBeLessThan(400);
  });

  it('a response stream is cut at the deadline with an error, though its handler never reads its signal', async () => {
    chain = await startChain();
    const peer = track(await wirePeer(chain.c.port));
    await waitUntil(() => peer.received.some((m) => m.type === MessageType.Hello), 2000, "C's hello");
    peer.send({ type: MessageType.Request, requestId: 1, pattern: 'c.ticker', data: { id: 'tick' }, budgetMs: 100 });
    await waitUntil(() => chain!.c.probe.finalized.has('tick'), 2000, 'the stream to stop');
    await waitUntil(() => peer.answers(1).some((m) => m.type === MessageType.Error), 1000, 'the error');
    const answers = peer.answers(1);
    expect(answers.filter((m) => m.type === MessageType.Response).length).toBeGreaterThan(2);
    expect(answers.at(-1)).toMatchObject({ type: MessageType.Error, error: { code: 'ERR_CANCELLED', message: expect.stringMatching(/deadline-exceeded/) } });
    expect(answers.some((m) => m.type === MessageType.End)).toBe(false);
  });

  const tracked: Array<{ close(): unknown }> = [];
  function track<T extends { close(): unknown }>(o: T): T {
    tracked.push(o);
    return o;
  }
  afterEach(async () => {
    for (const o of tracked.splice(0).reverse()) await o.close();
  });
});

/** A provider by hand that announces budgets in its Hello or not (a newer or an older version). */
async function fakeServer(announceDeadlines: boolean): Promise<{
  port: number;
  frameTypes: MessageType[];
  requests: RequestMessage[];
  close(): Promise<void>;
}> {
  const frameTypes: MessageType[] = [];
  const requests: RequestMessage[] = [];
  const hello: HelloSettings = { idleTimeoutMs: 0, maxFrameSize: 8 * 1024 * 1024, patterns: ['anything'], events: [] };
  if (announceDeadlines) hello.deadlines = true;
  const server = await startHandWrittenServer(hello, (message, frameType, reply) => {
    frameTypes.push(frameType);
    if (message.type !== MessageType.Request) return;
    requests.push(message);
    reply({ type: MessageType.End, requestId: message.requestId, hasData: true, data: 'answered' });
  });
  return { port: server.port, frameTypes, requests, close: () => server.close() };
}
