import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { FrameDecodeError } from '../errors/frame-decode-error.js';
import { FrameTooLargeError } from '../errors/frame-too-large-error.js';
import { CompressionId } from './frame-header.js';
import { Compressor } from './compressor.js';

/**
 * gzip via zlib. Inflation is capped with zlib's `maxOutputLength`, which aborts as soon as
 * the output would exceed the cap: a gzip bomb costs at most `maxOutput` bytes of memory.
 */
export class GzipCompressor implements Compressor {
  readonly id = CompressionId.Gzip;
  readonly name = 'gzip' as const;

  constructor(private readonly level = constants.Z_DEFAULT_COMPRESSION) {}

  compress(body: Buffer): Buffer {
    return gzipSync(body, { level: this.level });
  }

  decompress(body: Buffer, maxOutput: number): Buffer {
    try {
      return gunzipSync(body, { maxOutputLength: maxOutput });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new FrameTooLargeError(maxOutput + 1, maxOutput, 'Inflated body');
      }
      throw new FrameDecodeError('Corrupt gzip body', { cause: err });
    }
  }
}
