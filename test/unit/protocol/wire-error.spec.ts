import { describe, expect, it } from '@jest/globals';
import { ServerBusyError } from '../../../lib/errors/server-busy-error.js';
import { FrameDecodeError } from '../../../lib/errors/frame-decode-error.js';
import { isServerBusyPayload } from '../../../lib/errors/server-busy-error.js';
import { CodecId, MessageType } from '../../../lib/protocol/frame-header.js';
import { FrameDecoder } from '../../../lib/protocol/frame-decoder.js';
import { MessageCodec } from '../../../lib/protocol/message-codec.js';
import { resolveProtocolOptions } from '../../../lib/protocol/protocol-options.js';
import { plainError, toWireError } from '../../../lib/protocol/wire-error.js';
import { RequestAdmission } from '../../../lib/server/request-admission.js';

describe('wire errors', () => {
  it('an Error becomes a plain object with its message, name and string code', () => {
    expect(toWireError(new FrameDecodeError('bad body'))).toEqual({
      status: 'error',
      message: 'bad body',
      name: 'FrameDecodeError',
      code: 'ERR_FRAME_DECODE',
    });
    expect(toWireError(new TypeError('nope'))).toEqual({ status: 'error', message: 'nope', name: 'TypeError' });
    // A numeric errno code is not a library code: left out.
    expect(toWireError(Object.assign(new Error('x'), { code: 42 }))).toEqual({ status: 'error', message: 'x', name: 'Error' });
  });

  it("a value a handler threw (an RpcException's payload) goes as it is; nothing becomes an unknown error", () => {
    const payload = { status: 'error', message: 'denied', reason: 'quota' };
    expect(toWireError(payload)).toBe(payload);
    expect(toWireError('plain text')).toBe('plain text');
    expect(toWireError(undefined)).toEqual({ status: 'error', message: 'Unknown error' });
  });

  it('plainError turns anything thrown into a serializable WireError, never the raw value', () => {
    const circular: Record<string, unknown> = { message: 'loop' };
    circular.self = circular;
    expect(plainError(circular)).toEqual({ status: 'error', message: 'loop' });
    expect(plainError('boom')).toEqual({ status: 'error', message: 'boom' });
    expect(plainError(null)).toEqual({ status: 'error', message: 'null' });
    expect(plainError(new RangeError('r'))).toEqual(toWireError(new RangeError('r')));
  });

  it("a busy server's refusal is derived from ServerBusyError and keeps the shape clients recognise", () => {
    const refusal = new RequestAdmission(3).refusal;
    expect(refusal).toBeInstanceOf(ServerBusyError);
    const codec = new MessageCodec(resolveProtocolOptions());
    for (const id of [CodecId.Json, CodecId.MsgPack]) {
      const frame = codec.encode({ type: MessageType.Error, requestId: 9, error: refusal }, id);
      let decoded: unknown;
      new FrameDecoder(codec.maxFrameSize).push(frame, (f) => (decoded = codec.decode(f)));
      const error = (decoded as { error: unknown }).error;
      expect(error).toEqual({ status: 'error', message: 'server busy: 3 requests in flight', name: 'ServerBusyError', code: 'ERR_SERVER_BUSY' });
      expect(isServerBusyPayload(error)).toBe(true);
    }
    // The client's typed error names the address it dialled, with the server's detail.
    expect(new ServerBusyError('10.0.0.1:4000', 'server busy: 3 requests in flight').message).toBe(
      'Provider 10.0.0.1:4000 is busy: server busy: 3 requests in flight',
    );
  });
});
