import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { encodeFrame, encodeFrames, FrameSplitter, ID_BYTES, LENGTH_BYTES } from '../../../bench/raw-frames.js';

// The raw-net baseline's framing: if it dropped, merged or mangled a frame, the bench would compare
// ms-rpc against a baseline that does not echo what it was sent.

function split(stream: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, stream.length]) {
    if (p > from) chunks.push(stream.subarray(from, p));
    from = Math.max(from, p);
  }
  return chunks;
}

describe('FrameSplitter (raw-net baseline)', () => {
  it('yields every frame whole and in order, however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'z', '0'), maxLength: 3000 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const stream = encodeFrames(payloads.map((payload, i) => ({ id: i + 1, payload })));
          const got: { id: number; payload: string }[] = [];
          const splitter = new FrameSplitter((frame) =>
            got.push({ id: frame.readUInt32BE(LENGTH_BYTES), payload: frame.toString('latin1', LENGTH_BYTES + ID_BYTES) }),
          );
          for (const chunk of split(stream, cuts)) splitter.push(chunk);
          expect(got).toEqual(payloads.map((payload, i) => ({ id: i + 1, payload })));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('joins a large frame delivered one byte at a time into one whole frame', () => {
    const stream = encodeFrames([{ id: 7, payload: 'x'.repeat(16 * 1024) }]);
    const frames: Buffer[] = [];
    const splitter = new FrameSplitter((f) => frames.push(f));
    for (let i = 0; i < stream.length; i++) splitter.push(stream.subarray(i, i + 1));
    expect(frames).toHaveLength(1);
    expect(frames[0].equals(stream)).toBe(true);
  });

  it('raw-json frames: UTF-8 bodies keep their byte length, batched or one by one', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 200 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (texts, cuts) => {
        const bodies = texts.map((data) => JSON.stringify({ pattern: 'echo', data }));
        const batched = encodeFrames(bodies.map((payload, i) => ({ id: i + 1, payload })), 'utf8');
        const single = Buffer.concat(bodies.map((body, i) => encodeFrame(i + 1, body, 'utf8')));
        expect(single.equals(batched)).toBe(true);
        const got: unknown[] = [];
        const splitter = new FrameSplitter((frame) =>
          got.push((JSON.parse(frame.toString('utf8', LENGTH_BYTES + ID_BYTES)) as { data: unknown }).data),
        );
        for (const chunk of split(batched, cuts)) splitter.push(chunk);
        expect(got).toEqual(texts);
      }),
      { numRuns: 200 },
    );
  });
});
