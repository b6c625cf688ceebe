import { NacosServerError } from '../../errors/nacos-server-error.js';
import type { NacosInstanceSpec } from '../nacos-instance.js';
import type { NacosPayload } from './payload-codec.js';

/**
 * The Java class names that go into `metadata.type` (Nacos's PayloadRegistry maps them back to
 * classes and refuses unknown ones), and the JSON bodies of the requests this client sends. Key
 * names are the Java bean properties, camelCase, exactly.
 */
export const NacosType = {
  ServerCheckRequest: 'ServerCheckRequest',
  ServerCheckResponse: 'ServerCheckResponse',
  ConnectionSetupRequest: 'ConnectionSetupRequest',
  SetupAckRequest: 'SetupAckRequest',
  HealthCheckRequest: 'HealthCheckRequest',
  HealthCheckResponse: 'HealthCheckResponse',
  ClientDetectionRequest: 'ClientDetectionRequest',
  ClientDetectionResponse: 'ClientDetectionResponse',
  ConnectResetRequest: 'ConnectResetRequest',
  ConnectResetResponse: 'ConnectResetResponse',
  InstanceRequest: 'InstanceRequest',
  InstanceResponse: 'InstanceResponse',
  BatchInstanceRequest: 'BatchInstanceRequest',
  BatchInstanceResponse: 'BatchInstanceResponse',
  SubscribeServiceRequest: 'SubscribeServiceRequest',
  SubscribeServiceResponse: 'SubscribeServiceResponse',
  ServiceQueryRequest: 'ServiceQueryRequest',
  QueryServiceResponse: 'QueryServiceResponse',
  NotifySubscriberRequest: 'NotifySubscriberRequest',
  NotifySubscriberResponse: 'NotifySubscriberResponse',
  ErrorResponse: 'ErrorResponse',
} as const;

export type NacosTypeName = (typeof NacosType)[keyof typeof NacosType];

/** Instance as Nacos's `com.alibaba.nacos.api.naming.pojo.Instance` serialises it. */
export interface NacosInstanceJson extends NacosInstanceSpec {
  instanceId?: string;
  serviceName?: string;
}

/** `com.alibaba.nacos.api.naming.pojo.ServiceInfo`; 2.x spells `allIPs`, 3.x `allIps`. */
export interface NacosServiceInfoJson {
  name?: string;
  groupName?: string;
  clusters?: string;
  cacheMillis?: number;
  hosts?: unknown[];
  lastRefTime?: number;
  checksum?: string;
  allIps?: boolean;
  allIPs?: boolean;
  reachProtectionThreshold?: boolean;
  valid?: boolean;
}

/** `module` a Java request reports: naming requests say `naming`, connection-level ones `internal`. */
type RequestModule = 'naming' | 'internal';

/** A request body as Jackson writes it: headers moved to metadata (left `{}` here), nulls omitted. */
export function requestPayload(
  type: NacosTypeName,
  module: RequestModule,
  fields: Record<string, unknown>,
  headers: Record<string, string> = {},
): NacosPayload {
  const body: Record<string, unknown> = { headers: {} };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) body[key] = value;
  body.module = module;
  return { type, headers, body };
}

/** A success answer to a request the server sent on the stream (detection, reset, push). */
export function responsePayload(type: NacosTypeName, requestId: unknown, resultCode = 200, message?: string): NacosPayload {
  const body: Record<string, unknown> = { resultCode, errorCode: resultCode === 200 ? 0 : resultCode };
  if (message !== undefined) body.message = message;
  if (requestId !== undefined) body.requestId = requestId;
  body.success = resultCode === 200;
  return { type, headers: {}, body };
}

/** The naming request body common to every naming call (`AbstractNamingRequest`). */
export function namingFields(namespace: string, group: string, service: string): Record<string, unknown> {
  return { namespace, serviceName: service, groupName: group };
}

/**
 * Returns the body of a successful answer of the expected type. Failure is `resultCode !== 200`
 * (filters answer the handler's type with 500 and the reason in `errorCode`).
 * @throws NacosServerError otherwise.
 */
export function expectSuccess(payload: NacosPayload, expected: NacosTypeName): Record<string, unknown> {
  const body = payload.body;
  const resultCode = typeof body.resultCode === 'number' ? body.resultCode : Number(body.resultCode ?? NaN);
  if (payload.type === NacosType.ErrorResponse || resultCode !== 200) {
    const errorCode = typeof body.errorCode === 'number' ? body.errorCode : Number(body.errorCode ?? resultCode);
    throw new NacosServerError(payload.type, resultCode, errorCode, typeof body.message === 'string' ? body.message : '');
  }
  if (payload.type !== expected) {
    throw new NacosServerError(payload.type, resultCode, 0, `expected a ${expected}`);
  }
  return body;
}
