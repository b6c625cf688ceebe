import { CompressionId } from './frame-header.js';

export type CompressionName = 'none' | 'gzip';

/** A body compression algorithm. */
export interface Compressor {
  readonly id: CompressionId;
  readonly name: CompressionName;
  compress(body: Buffer): Buffer;
  /** Must throw FrameTooLargeError rather than produce more than `maxOutput` bytes. */
  decompress(body: Buffer, maxOutput: number): Buffer;
}
