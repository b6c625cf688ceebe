import { describe, expect, it } from '@jest/globals';
import { FrameDecodeError } from '../../../lib/errors/index.js';
import { CodecId, CompressionId, MessageType } from '../../../lib/protocol/frame-header.js';
import type { Message, RequestMessage } from '../../../lib/protocol/message.js';
import { codecWith, frameOf, rawFrame } from './protocol-test-helpers.js';

/**
 * The caller's time budget on the wire (issue 18): a DeadlineRequest frame is a Request body after
 * a u32 budget. Plain Requests (older clients, older servers) keep the layout they always had.
 */
describe.each(['json', 'msgpack'] as const)('DeadlineRequest (%s)', (codecName) => {
  const codec = codecWith({ codec: codecName });
  const gzip = codecWith({ codec: codecName, compression: 'gzip', compressThreshold: 0 });
  const request: RequestMessage = {
    type: MessageType.Request,
    requestId: 7,
    pattern: 'orders.get',
    data: { id: 42 },
    metadata: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    budgetMs: 2999,
  };

  it('a request with a budget is a DeadlineRequest frame: u32 budget, then the request body', () => {
    const wire = codec.encode(request);
    const frame = frameOf(wire);
    expect(frame.type).toBe(MessageType.DeadlineRequest);
    expect(frame.requestId).toBe(7);
    expect(frame.body.readUInt32BE(0)).toBe(2999);
    // What follows is byte for byte the body of the same request without a budget.
    const plain = frameOf(codec.encode({ ...request, budgetMs: undefined }));
    expect(plain.type).toBe(MessageType.Request);
    expect(frame.body.subarray(4).equals(plain.body)).toBe(true);
    expect(codec.decode(frame)).toEqual(request);
  });

  it('round-trips with gzip, without metadata, and with an empty pattern', () => {
    const big = { ...request, data: 'x'.repeat(5000) };
    for (const m of [big, { ...big, metadata: undefined }, { ...big, pattern: '' }] as RequestMessage[]) {
      const frame = frameOf(gzip.encode(m));
      expect(frame.compression).toBe(CompressionId.Gzip);
      const out = gzip.decode(frame) as RequestMessage;
      expect(out).toEqual(m);
      expect(out.budgetMs).toBe(2999);
    }
  });

  it('a request without a budget stays a plain Request, decoded without one', () => {
    const { budgetMs: _, ...old } = request;
    const frame = frameOf(codec.encode(old));
    expect(frame.type).toBe(MessageType.Request);
    const out = codec.decode(frame);
    expect(out).toEqual(old);
    expect('budgetMs' in out).toBe(false);
  });

  it('clamps the budget to the u32 field: spent is 0, fractions round up, huge is the maximum', () => {
    const budgetOf = (budgetMs: number) => (codec.decode(frameOf(codec.encode({ ...request, budgetMs }))) as RequestMessage).budgetMs;
    expect(budgetOf(-5)).toBe(0);
    expect(budgetOf(0)).toBe(0);
    expect(budgetOf(12.2)).toBe(13);
    expect(budgetOf(2 ** 40)).toBe(0xffffffff);
  });

  it('a body too short for its budget or its route is a FrameDecodeError', () => {
    const codecId = codecName === 'json' ? CodecId.Json : CodecId.MsgPack;
    const short = frameOf(rawFrame({ type: MessageType.DeadlineRequest, codec: codecId, requestId: 1 }, Buffer.from([0, 0, 1])));
    expect(() => codec.decode(short)).toThrow(FrameDecodeError);
    const noRoute = frameOf(rawFrame({ type: MessageType.DeadlineRequest, codec: codecId, requestId: 1 }, Buffer.from([0, 0, 0, 9, 0])));
    expect(() => codec.decode(noRoute)).toThrow(/too short for a route/);
    // A pattern length that runs past the body, after the budget.
    const past = Buffer.from([0, 0, 0, 9, 0, 50, 0, 0, 0, 0]);
    expect(() => codec.decode(frameOf(rawFrame({ type: MessageType.DeadlineRequest, codec: codecId, requestId: 1 }, past)))).toThrow(
      /runs past the body/,
    );
  });

  it("a server's Hello announces that it reads budgets; anything but true is no", () => {
    const hello = (settings: object) =>
      codec.decode(frameOf(codec.encode({ type: MessageType.Hello, settings: settings as never }))) as Extract<Message, { type: MessageType.Hello }>;
    expect(hello({ idleTimeoutMs: 1, maxFrameSize: 1024, deadlines: true }).settings.deadlines).toBe(true);
    expect(hello({ idleTimeoutMs: 1, maxFrameSize: 1024, deadlines: 'yes' }).settings.deadlines).toBeUndefined();
    expect(hello({ idleTimeoutMs: 1, maxFrameSize: 1024 }).settings.deadlines).toBeUndefined();
  });
});
