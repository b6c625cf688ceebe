/** What a span records of a failure: an Error as it is, anything else as a message. */
export interface RecordedException {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/**
 * `error`, as OpenTelemetry records an exception. A handler's RpcException arrives at the client
 * as the plain object it was built with (`{ status: 'error', message }`, or the user's own shape):
 * its `message` when it has one, else its JSON (cut short: it may be large).
 */
export function exceptionOf(error: unknown): RecordedException {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, stack: error.stack, ...(typeof code === 'string' ? { code } : {}) };
  }
  if (error !== null && typeof error === 'object') {
    const o = error as { message?: unknown; name?: unknown; code?: unknown };
    const message = typeof o.message === 'string' ? o.message : shortJson(error);
    return {
      name: typeof o.name === 'string' ? o.name : 'RpcError',
      message,
      ...(typeof o.code === 'string' ? { code: o.code } : {}),
    };
  }
  return { name: 'RpcError', message: String(error) };
}

/**
 * `error.type` (semantic conventions): a low-cardinality class of the failure, the library's error
 * code (`ERR_RPC_TIMEOUT`...), else the error's name, else what a handler's error object says.
 */
export function errorType(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const o = error as { code?: unknown; name?: unknown };
    if (typeof o.code === 'string' && o.code.length > 0) return o.code;
    if (error instanceof Error) return error.name;
    if (typeof o.name === 'string' && o.name.length > 0) return o.name;
  }
  return '_OTHER';
}

/** `host:port` (IPv6 hosts included) → [host, port]; the port is undefined when there is none. */
export function splitAddress(address: string): [string, number | undefined] {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return [address, undefined];
  const port = Number(address.slice(colon + 1));
  return Number.isInteger(port) ? [address.slice(0, colon), port] : [address, undefined];
}

function shortJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 256 ? `${text.slice(0, 256)}...` : text;
}
