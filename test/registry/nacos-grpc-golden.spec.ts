import { afterEach, describe, expect, it } from '@jest/globals';
import protobuf from 'protobufjs';
import { NacosRegistry } from '../../lib/registry/index.js';
import { NacosGrpcTestServer, type TranscriptEntry } from '../../lib/testing/index.js';
import { recordingLogger, waitFor } from '../support/nacos-test-helpers.js';

/**
 * Golden transcript: one scripted session (auth, register, batch, subscribe, push and ack, health
 * check, client detection, query, deregister, ConnectReset) through the real client, every Payload
 * recorded by the test server, then decoded again here with the proto TEXT of Nacos
 * (`nacos_grpc_service.proto`, independent of the library's descriptor) and compared field by
 * field with nacos-grpc-facts.md: metadata.type values, JSON key names, header keys. Both sides
 * here are ours, so this is what catches a misspelt class or key.
 */

// api/src/main/proto/nacos_grpc_service.proto (facts sec. 1): no package, odd field numbers.
const NACOS_PROTO = `
syntax = "proto3";
import "google/protobuf/any.proto";
message Metadata { string type = 3; string clientIp = 8; map<string, string> headers = 7; }
message Payload { Metadata metadata = 2; google.protobuf.Any body = 3; }
`;

/** Exact JSON keys of each request the client sends (facts sec. 1-3: Java bean names, `headers: {}` and `module` added, nulls omitted). */
const CLIENT_REQUEST_KEYS: Record<string, string[]> = {
  ServerCheckRequest: ['headers', 'module'],
  ConnectionSetupRequest: ['abilityTable', 'clientVersion', 'headers', 'labels', 'module'],
  HealthCheckRequest: ['headers', 'module'],
  InstanceRequest: ['groupName', 'headers', 'instance', 'module', 'namespace', 'serviceName', 'type'],
  BatchInstanceRequest: ['groupName', 'headers', 'instances', 'module', 'namespace', 'serviceName', 'type'],
  SubscribeServiceRequest: ['clusters', 'groupName', 'headers', 'module', 'namespace', 'serviceName', 'subscribe'],
  ServiceQueryRequest: ['cluster', 'groupName', 'headers', 'healthyOnly', 'module', 'namespace', 'serviceName', 'udpPort'],
};
/** Responses the client writes on the stream: Response base (resultCode, errorCode, requestId) + `success`. */
const CLIENT_RESPONSE_KEYS: Record<string, string[]> = {
  NotifySubscriberResponse: ['errorCode', 'requestId', 'resultCode', 'success'],
  ClientDetectionResponse: ['errorCode', 'requestId', 'resultCode', 'success'],
  ConnectResetResponse: ['errorCode', 'requestId', 'resultCode', 'success'],
};
/** Request -> the response type the server answers (facts sec. 1: ServiceQueryRequest -> QueryServiceResponse). */
const ANSWER_TYPES: Record<string, string> = {
  ServerCheckRequest: 'ServerCheckResponse',
  HealthCheckRequest: 'HealthCheckResponse',
  InstanceRequest: 'InstanceResponse',
  BatchInstanceRequest: 'BatchInstanceResponse',
  SubscribeServiceRequest: 'SubscribeServiceResponse',
  ServiceQueryRequest: 'QueryServiceResponse',
};
/** Server requests on the stream and what the client must answer (SetupAck: nothing). */
const STREAM_ANSWERS: Record<string, string | null> = {
  SetupAckRequest: null,
  NotifySubscriberRequest: 'NotifySubscriberResponse',
  ClientDetectionRequest: 'ClientDetectionResponse',
  ConnectResetRequest: 'ConnectResetResponse',
};
const INSTANCE_KEYS = ['clusterName', 'enabled', 'ephemeral', 'healthy', 'ip', 'metadata', 'port', 'weight'];
const NAMING = new Set(['InstanceRequest', 'BatchInstanceRequest', 'SubscribeServiceRequest', 'ServiceQueryRequest']);

/** Server requests (pushes) sent before their connection was told to move, with no answer from the client yet. */
function unansweredPushes(transcript: readonly TranscriptEntry[]): TranscriptEntry[] {
  const resetAt = new Map<string, number>();
  transcript.forEach((e, i) => {
    if (e.direction === 'out' && e.payload.type === 'ConnectResetRequest' && !resetAt.has(e.connectionId)) resetAt.set(e.connectionId, i);
  });
  const answered = new Set(transcript.filter((e) => e.direction === 'in' && e.channel === 'stream').map((e) => `${e.connectionId}/${String(e.payload.body.requestId)}`));
  return transcript.filter(
    (e, i) =>
      e.direction === 'out' &&
      e.channel === 'stream' &&
      STREAM_ANSWERS[e.payload.type] &&
      i <= (resetAt.get(e.connectionId) ?? Infinity) &&
      !answered.has(`${e.connectionId}/${String(e.payload.body.requestId)}`),
  );
}

describe('Nacos gRPC golden transcript', () => {
  let server: NacosGrpcTestServer | undefined;
  const registries: NacosRegistry[] = [];

  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.close()));
    await server?.stop();
  });

  it('every Payload of a scripted session matches the facts note field by field', async () => {
    server = new NacosGrpcTestServer({
      pushDelayMs: 20,
      subscribePushDelayMs: 20,
      auth: { username: 'nacos', password: 'pw' },
    });
    await server.start();
    const registry = new NacosRegistry({
      serverList: [server.address],
      username: 'nacos',
      password: 'pw',
      logger: recordingLogger(),
      grpc: { healthCheckInterval: 250, appName: 'golden' },
    });
    registries.push(registry);

    await registry.register({ service: 'orders', host: '127.0.0.1', port: 4001, metadata: { v: '1' } });
    await registry.register({ service: 'orders', host: '127.0.0.1', port: 4002 });
    const lists: number[] = [];
    await registry.subscribe('orders', (l) => lists.push(l.length));
    await registry.getInstances('payments');
    await waitFor(() => server!.received('NotifySubscriberResponse').length > 0, 3000, 'a push acked');
    await waitFor(() => server!.received('HealthCheckRequest').length > 0, 3000, 'a health check');
    expect(await server.detectNow()).toBe(1);
    await registry.deregister({ service: 'orders', host: '127.0.0.1', port: 4002 });
    await registry.deregister({ service: 'orders', host: '127.0.0.1', port: 4001 });
    expect(await server.connectReset()).toBe(1);
    await waitFor(() => server!.connections().length === 1 && server!.received('ServerCheckRequest').length === 2, 3000, 'reconnect');
    // The last list (both deregistered) arrives by push, on the old connection or the new one.
    await waitFor(() => lists.at(-1) === 0, 3000, 'the empty list');
    // The re-subscription's push on the new connection may come after that list (it repeats it):
    // the answers are read below only once every push the client could answer has its answer.
    await waitFor(() => unansweredPushes(server!.transcript).length === 0, 3000, 'an answer to every push');

    const root = new protobuf.Root();
    root.addJSON(protobuf.common.get('google/protobuf/any.proto')!.nested!);
    const Payload = protobuf.parse(NACOS_PROTO, root, { keepCase: true }).root.lookupType('Payload');
    const decode = (e: TranscriptEntry) => {
      const m = Payload.toObject(Payload.decode(e.bytes), { defaults: false, bytes: Buffer }) as {
        metadata: { type: string; headers?: Record<string, string>; clientIp?: string };
        body: { type_url?: string; value: Buffer };
      };
      expect(m.body.type_url ?? '').toBe('');
      return { type: m.metadata.type, headers: m.metadata.headers ?? {}, json: JSON.parse(m.body.value.toString('utf8')) as Record<string, unknown> };
    };

    const sent = server.transcript.filter((e) => e.direction === 'in');
    const seenTypes = new Set<string>();
    for (const entry of sent) {
      const { type, headers, json } = decode(entry);
      seenTypes.add(type);
      const keys = CLIENT_REQUEST_KEYS[type] ?? CLIENT_RESPONSE_KEYS[type];
      expect({ type, keys: Object.keys(json).sort() }).toEqual({ type, keys });
      // Unary requests go unary, responses and ConnectionSetup on the stream (facts pitfall 6).
      expect({ type, channel: entry.channel }).toEqual({ type, channel: type in CLIENT_REQUEST_KEYS && type !== 'ConnectionSetupRequest' ? 'unary' : 'stream' });
      // accessToken and app in metadata.headers of naming requests only, never in the body (pitfall 3).
      expect({ type, headers: Object.keys(headers).sort() }).toEqual({ type, headers: NAMING.has(type) ? ['accessToken', 'app'] : [] });
      expect(json.headers ?? {}).toEqual({});
      if (type in CLIENT_REQUEST_KEYS) expect({ type, module: json.module }).toEqual({ type, module: NAMING.has(type) ? 'naming' : 'internal' });
      if (type === 'ConnectionSetupRequest') {
        expect(Object.keys(json.labels as object).sort()).toEqual(['AppName', 'module', 'source']);
        expect(json.labels).toMatchObject({ module: 'naming', source: 'sdk', AppName: 'golden' });
        expect(Object.keys(json.abilityTable as object).sort()).toEqual(['fuzzyWatch', 'lock', 'mcp']);
      }
      if (type === 'InstanceRequest') {
        expect(['registerInstance', 'deregisterInstance']).toContain(json.type);
        expect(Object.keys(json.instance as object).sort()).toEqual(INSTANCE_KEYS);
        expect(json.namespace).toBe('public');
      }
      if (type === 'BatchInstanceRequest') {
        expect(json.type).toBe('batchRegisterInstance');
        for (const i of json.instances as object[]) expect(Object.keys(i).sort()).toEqual(INSTANCE_KEYS);
      }
      if (type === 'SubscribeServiceRequest') expect(json.clusters).toBe('');
      if (type in CLIENT_RESPONSE_KEYS) expect(json.resultCode).toBe(200);
    }
    for (const type of [...Object.keys(CLIENT_REQUEST_KEYS), ...Object.keys(CLIENT_RESPONSE_KEYS)]) expect(seenTypes).toContain(type);

    // Every unary request got the answer type of the facts table; every stream request its answer.
    const received = server.transcript.filter((e) => e.direction === 'out');
    for (const request of sent.filter((e) => e.channel === 'unary')) {
      const answer = received.find((r) => r.channel === 'unary' && server!.transcript.indexOf(r) > server!.transcript.indexOf(request));
      expect({ request: request.payload.type, answer: answer && decode(answer).type }).toEqual({ request: request.payload.type, answer: ANSWER_TYPES[request.payload.type] });
    }
    // A connection answers nothing after it was told to move (ConnectReset): it is closed.
    const movedAt = new Map(received.filter((e) => e.payload.type === 'ConnectResetRequest').map((e) => [e.connectionId, server!.transcript.indexOf(e)]));
    const beforeMove = (e: TranscriptEntry) => server!.transcript.indexOf(e) <= (movedAt.get(e.connectionId) ?? Infinity);
    for (const push of received.filter((e) => e.channel === 'stream' && beforeMove(e))) {
      const { type, json } = decode(push);
      expect(Object.keys(STREAM_ANSWERS)).toContain(type);
      const expected = STREAM_ANSWERS[type];
      const answers = sent.filter((e) => e.channel === 'stream' && e.payload.body.requestId === json.requestId && json.requestId !== undefined);
      if (expected === null) expect(sent.filter((e) => e.payload.type.startsWith('SetupAck'))).toEqual([]);
      else expect(answers.map((a) => a.payload.type)).toEqual([expected]);
    }
    expect(lists.at(-1)).toBe(0);
  });
});
