import type { IncomingMessage, ServerResponse } from 'node:http';

/** Parameters of one request: the query string, plus a form-encoded body when there is one. */
export class NacosParams {
  private constructor(private readonly values: URLSearchParams) {}

  static async read(req: IncomingMessage, url: URL): Promise<NacosParams> {
    const values = new URLSearchParams(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const type = req.headers['content-type'] ?? '';
    if (body.length > 0 && type.includes('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body)) if (!values.has(k)) values.set(k, v);
    }
    return new NacosParams(values);
  }

  toObject(): Record<string, string> {
    return Object.fromEntries(this.values);
  }

  get(name: string): string | undefined {
    return this.values.get(name) ?? undefined;
  }

  /** Missing required parameters are answered with HTTP 400, like the real server. */
  required(name: string): string {
    const value = this.values.get(name);
    if (value === null || value === '') throw new BadRequest(`Param '${name}' is required.`);
    return value;
  }

  int(name: string, fallback?: number): number {
    const raw = this.values.get(name);
    if (raw === null || raw === '') {
      if (fallback === undefined) throw new BadRequest(`Param '${name}' is required.`);
      return fallback;
    }
    const value = Number(raw);
    if (!Number.isInteger(value)) throw new BadRequest(`Param '${name}' is not an integer: ${raw}`);
    return value;
  }

  number(name: string, fallback: number): number {
    const raw = this.values.get(name);
    if (raw === null || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new BadRequest(`Param '${name}' is not a number: ${raw}`);
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.values.get(name);
    if (raw === null || raw === '') return fallback;
    return raw === 'true';
  }

  /** JSON-valued parameter (`metadata`, `beat`); undefined when absent. */
  json<T>(name: string): T | undefined {
    const raw = this.values.get(name);
    if (raw === null || raw === '') return undefined;
    try {
      return JSON.parse(raw) as T;
    } catch {
      throw new BadRequest(`Param '${name}' is not valid JSON`);
    }
  }
}

export class BadRequest extends Error {}

/** Nacos metadata is a Map<String, String>: Jackson coerces scalar values to strings. */
export function stringMetadata(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (v !== null && v !== undefined) out[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  }
  return out;
}

export function send(res: ServerResponse, status: number, body: string | object): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain;charset=UTF-8' : 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
