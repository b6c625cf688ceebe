/**
 * Finds out, fast, whether bytes can stand in a JSON string literal exactly as they are:
 * printable ASCII (0x20–0x7f) other than `"` and `\`. Large string payloads are encoded and
 * decoded without JSON.stringify / JSON.parse when they can (json-ascii-string.ts,
 * json-serializer.ts), so this check is what a 16 KiB string costs instead of 23 µs of
 * JSON.stringify's character-by-character escaping.
 *
 * A 350-byte WebAssembly module does the scan with SIMD (0.45 µs for 16 KiB on the benchmark VM,
 * against 7 µs for the best plain-JS word loop). It works on its own 64 KiB
 * memory, so bytes are copied in chunk by chunk (a native memcpy, 0.2 µs per 16 KiB). Where
 * WebAssembly SIMD is missing, a JS loop four bytes at a time gives the same answers.
 *
 * The module, in WebAssembly text format (`scan(ptr, len)` returns 1 if any byte in
 * [ptr, ptr+len) is special, else 0; bytes >= 0x80 are negative as signed, so one signed
 * compare against 0x20 finds both control and non-ASCII bytes). The main loop takes 64 bytes
 * per turn (four independent vectors: 0.45 µs per 16 KiB, against 1.6 µs for 16 per turn):
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   (func (export "scan") (param $p i32) (param $n i32) (result i32)
 *     (local $end i32) (local $acc v128) (local $lo v128) (local $q v128) (local $bs v128)
 *     (local $x v128) (local $b i32)
 *     (local.set $end (i32.add (local.get $p) (local.get $n)))
 *     (local.set $lo (i8x16.splat (i32.const 0x20)))
 *     (local.set $q (i8x16.splat (i32.const 0x22)))
 *     (local.set $bs (i8x16.splat (i32.const 0x5c)))
 *     ;; $mask(x) below stands for
 *     ;; (v128.or (v128.or (i8x16.lt_s (local.tee $x x) (local.get $lo))
 *     ;;   (i8x16.eq (local.get $x) (local.get $q))) (i8x16.eq (local.get $x) (local.get $bs)))
 *     (block $done64 (loop $vec64
 *       (br_if $done64 (i32.gt_u (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
 *       (local.set $acc (v128.or (v128.or (v128.or (v128.or (local.get $acc)
 *         $mask((v128.load offset=0 (local.get $p))))
 *         $mask((v128.load offset=16 (local.get $p))))
 *         $mask((v128.load offset=32 (local.get $p))))
 *         $mask((v128.load offset=48 (local.get $p)))))
 *       (local.set $p (i32.add (local.get $p) (i32.const 64)))
 *       (br $vec64)))
 *     (block $done16 (loop $vec16
 *       (br_if $done16 (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
 *       (local.set $acc (v128.or (local.get $acc) $mask((v128.load (local.get $p)))))
 *       (local.set $p (i32.add (local.get $p) (i32.const 16)))
 *       (br $vec16)))
 *     (block $tail_done (loop $tail
 *       (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
 *       (if (i32.or (i32.or (i32.lt_s (local.tee $b (i32.load8_s (local.get $p))) (i32.const 0x20))
 *             (i32.eq (local.get $b) (i32.const 0x22))) (i32.eq (local.get $b) (i32.const 0x5c)))
 *         (then (return (i32.const 1))))
 *       (local.set $p (i32.add (local.get $p) (i32.const 1)))
 *       (br $tail)))
 *     (v128.any_true (local.get $acc))))
 * ```
 */

const SCAN_WASM_BASE64 =
  'AGFzbQEAAAABBwFgAn9/AX8DAgEABQMBAAEHEQIGbWVtb3J5AgAEc2NhbgAACq4CAasCAwF/BXsBfyAAIAFqIQJBIP0PIQRBIv0PIQVB3AD9DyEGAkADQCAAQcAAaiACSw0BIAMgAP0AAAAiByAE/SUgByAF/SP9UCAHIAb9I/1Q/VAgAP0AABAiByAE/SUgByAF/SP9UCAHIAb9I/1Q/VAgAP0AACAiByAE/SUgByAF/SP9UCAHIAb9I/1Q/VAgAP0AADAiByAE/SUgByAF/SP9UCAHIAb9I/1Q/VAhAyAAQcAAaiEADAALCwJAA0AgAEEQaiACSw0BIAMgAP0AAAAiByAE/SUgByAF/SP9UCAHIAb9I/1Q/VAhAyAAQRBqIQAMAAsLAkADQCAAIAJPDQEgACwAACIIQSBIIAhBIkZyIAhB3ABGcgRAQQEPCyAAQQFqIQAMAAsLIAP9Uws=';

/** The module's memory: one WebAssembly page. */
const CHUNK_BYTES = 64 * 1024;

/** The part of the WebAssembly JS API used here (the project's TS lib has no DOM/wasm types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

interface WasmScanner {
  readonly bytes: Uint8Array;
  readonly scan: (ptr: number, length: number) => number;
}

/** One per codec (it owns 64 KiB of WebAssembly memory); nothing here is shared or global. */
export class JsonStringScanner {
  /** undefined until first use; null where WebAssembly SIMD is unavailable. */
  private wasm: WasmScanner | null | undefined;

  /** `forceJs` skips WebAssembly (tests compare both paths). */
  constructor(private readonly forceJs = false) {}

  /** Whether the scan runs in WebAssembly (false: the JS fallback). */
  get usesWasm(): boolean {
    return this.load() !== null;
  }

  /**
   * True when every byte in `buf[start, end)` is printable ASCII other than `"` and `\`, i.e.
   * the bytes are their own JSON string literal content.
   */
  isPlain(buf: Uint8Array, start: number, end: number): boolean {
    const wasm = this.wasm === undefined ? this.load() : this.wasm;
    if (wasm === null) return isPlainJs(buf, start, end);
    for (let from = start; from < end; from += CHUNK_BYTES) {
      const to = Math.min(end, from + CHUNK_BYTES);
      wasm.bytes.set(buf.subarray(from, to));
      if (wasm.scan(0, to - from) !== 0) return false;
    }
    return true;
  }

  private load(): WasmScanner | null {
    if (this.wasm !== undefined) return this.wasm;
    this.wasm = null;
    const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (this.forceJs || wasmApi === undefined) return null;
    try {
      const bytes = Buffer.from(SCAN_WASM_BASE64, 'base64');
      // Engines without SIMD reject the module at validation: then the JS loop it is.
      if (!wasmApi.validate(bytes)) return null;
      const instance = new wasmApi.Instance(new wasmApi.Module(bytes));
      const memory = instance.exports.memory as { buffer: ArrayBuffer };
      this.wasm = {
        bytes: new Uint8Array(memory.buffer, 0, CHUNK_BYTES),
        scan: instance.exports.scan as WasmScanner['scan'],
      };
    } catch {
      this.wasm = null;
    }
    return this.wasm;
  }
}

/** The fallback: four bytes at a time where the memory is 4-aligned. */
export function isPlainJs(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  const base = buf.byteOffset;
  while (i < end && ((base + i) & 3) !== 0) {
    if (isSpecial(buf[i])) return false;
    i++;
  }
  const words = (end - i) >> 2;
  if (words > 0) {
    const view = new Int32Array(buf.buffer, base + i, words);
    // SWAR: for each byte b of x, (b - k) & ~b has its top bit set when b < k (no borrow can
    // reach a byte above a hit without a hit below it, so "any" is exact). b < 0x20 directly;
    // b == 0x22 / 0x5c as a zero byte of x ^ 0x22222222 / x ^ 0x5c5c5c5c; b >= 0x80 by its top
    // bit. Accumulated without branches in blocks (a hit is the rare case).
    for (let k = 0; k < words; ) {
      const stop = Math.min(words, k + 256);
      let acc = 0;
      for (; k < stop; k++) {
        const x = view[k];
        const q = x ^ 0x22222222;
        const b = x ^ 0x5c5c5c5c;
        acc |= ((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b) | x;
      }
      if ((acc & 0x80808080) !== 0) return false;
    }
    i += words << 2;
  }
  for (; i < end; i++) {
    if (isSpecial(buf[i])) return false;
  }
  return true;
}

function isSpecial(byte: number): boolean {
  return byte < 0x20 || byte === 0x22 || byte === 0x5c || byte >= 0x80;
}
