/**
 * The one message of Nacos's gRPC API (`nacos_grpc_service.proto`, no package line):
 *
 *   message Metadata { string type = 3; string clientIp = 8; map<string, string> headers = 7; }
 *   message Payload  { Metadata metadata = 2; google.protobuf.Any body = 3; }
 *
 * `body` is an Any whose `value` holds the UTF-8 JSON of the Java object and whose `type_url` is
 * empty; `metadata.type` is the Java simple class name. The descriptor lives here in TypeScript (a
 * .proto file would not survive the tsc build) and protobufjs is loaded only when a gRPC Nacos
 * registry starts, so direct-mode users never load it.
 */
import type * as Protobuf from 'protobufjs';
import { loadOptionalPackage } from '../../common/optional-package.js';

/** Full method paths: the proto has no package, so the services are top-level. */
export const NACOS_UNARY_PATH = '/Request/request';
export const NACOS_STREAM_PATH = '/BiRequestStream/requestBiStream';

/** A decoded Payload: the JSON body parsed, the metadata kept apart. */
export interface NacosPayload {
  /** Java simple class name, e.g. `InstanceRequest`. */
  type: string;
  clientIp?: string;
  /** Request headers (`accessToken`, `app`, ...); empty for responses. */
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface PayloadCodec {
  encode(payload: NacosPayload): Buffer;
  /** @throws PayloadDecodeError on bytes that are not a Payload or a body that is not a JSON object. */
  decode(bytes: Buffer): NacosPayload;
}

/** A peer sent bytes that are not a Nacos Payload. */
export class PayloadDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadDecodeError';
  }
}

const DESCRIPTOR = {
  nested: {
    Metadata: {
      fields: {
        type: { type: 'string', id: 3 },
        clientIp: { type: 'string', id: 8 },
        headers: { keyType: 'string', type: 'string', id: 7 },
      },
    },
    Payload: {
      fields: {
        metadata: { type: 'Metadata', id: 2 },
        body: { type: 'Any', id: 3 },
      },
    },
    // google.protobuf.Any, declared locally under another name so protobufjs applies none of its
    // Any wrappers (type_url resolution): Nacos leaves type_url empty.
    Any: {
      fields: {
        typeUrl: { type: 'string', id: 1 },
        value: { type: 'bytes', id: 2 },
      },
    },
  },
};

interface PayloadMessage {
  metadata?: { type?: string; clientIp?: string; headers?: Record<string, string> };
  body?: { typeUrl?: string; value?: Uint8Array };
}

/** What the gRPC registry needs protobufjs for. */
export const GRPC_FEATURE = "Nacos over gRPC (NacosRegistry protocol 'grpc', the default)";

/**
 * Builds a codec; protobufjs is imported here, on first use, not at module load.
 * @throws MissingDependencyError when protobufjs is not installed.
 */
export async function loadPayloadCodec(): Promise<PayloadCodec> {
  return createPayloadCodec(await loadOptionalPackage<typeof Protobuf>(GRPC_FEATURE, ['protobufjs'], () => import('protobufjs')));
}

export function createPayloadCodec(protobuf: typeof Protobuf): PayloadCodec {
  const root = protobuf.Root.fromJSON(DESCRIPTOR);
  const Payload = root.lookupType('Payload');
  return {
    encode(payload) {
      const metadata: PayloadMessage['metadata'] = { type: payload.type, headers: payload.headers };
      if (payload.clientIp) metadata.clientIp = payload.clientIp;
      const message = Payload.create({ metadata, body: { value: Buffer.from(JSON.stringify(payload.body), 'utf8') } });
      return Buffer.from(Payload.encode(message).finish());
    },
    decode(bytes) {
      let message: PayloadMessage;
      try {
        message = Payload.decode(bytes) as unknown as PayloadMessage;
      } catch (err) {
        throw new PayloadDecodeError(`not a Nacos Payload: ${(err as Error).message}`, { cause: err });
      }
      const type = message.metadata?.type ?? '';
      if (type === '') throw new PayloadDecodeError('Payload without metadata.type');
      const text = Buffer.from(message.body?.value ?? new Uint8Array()).toString('utf8');
      let body: unknown;
      try {
        body = text === '' ? {} : JSON.parse(text);
      } catch (err) {
        throw new PayloadDecodeError(`${type}: body is not JSON: ${(err as Error).message}`, { cause: err });
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new PayloadDecodeError(`${type}: body is not a JSON object`);
      }
      const headers = { ...(message.metadata?.headers ?? {}) };
      const clientIp = message.metadata?.clientIp || undefined;
      return { type, clientIp, headers, body: body as Record<string, unknown> };
    },
  };
}
