import { DEFAULT_CLUSTER, groupedName } from '../nacos-test-store.js';
import { serviceInfoJson, type GrpcStoredInstance, type NacosGrpcTestStore } from './grpc-test-store.js';
import type { GrpcTestConnection } from './grpc-test-connection.js';

/** A refusal of a naming handler: answered as the handler's response type with resultCode 500. */
export class NamingRefusal extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

/**
 * The naming request handlers of Nacos (`naming/remote/rpc/handler/*`) over the shared store, with
 * the server's parameter checks. Each returns the JSON body of its response (without the common
 * `resultCode`/`success` keys, which the server adds).
 */
export class GrpcTestNaming {
  constructor(
    private readonly store: NacosGrpcTestStore,
    private readonly onSubscribed: (connection: GrpcTestConnection, namespace: string, service: string) => void,
  ) {}

  instance(connection: GrpcTestConnection, body: Body): Body {
    const { namespace, service } = this.target(connection, body);
    const type = body.type;
    const instance = this.instanceOf(body.instance, service);
    if (type === 'registerInstance') this.store.publish(connection.clientId, namespace, service, [instance]);
    else if (type === 'deregisterInstance') this.store.unpublish(connection.clientId, namespace, service);
    else throw new NamingRefusal(400, `Unsupported request type ${String(type)}`);
    return { type };
  }

  batch(connection: GrpcTestConnection, body: Body): Body {
    const { namespace, service } = this.target(connection, body);
    if (body.type !== 'batchRegisterInstance') throw new NamingRefusal(400, `Unsupported request type ${String(body.type)}`);
    if (!Array.isArray(body.instances)) throw new NamingRefusal(400, 'instances required');
    if (body.instances.some((i) => (i as { ephemeral?: unknown } | null)?.ephemeral === false)) {
      throw new NamingRefusal(400, 'batch registration takes ephemeral instances only');
    }
    const instances = body.instances.map((i) => this.instanceOf(i, service));
    this.store.publish(connection.clientId, namespace, service, instances);
    return { type: body.type };
  }

  subscribe(connection: GrpcTestConnection, body: Body): Body {
    const { namespace, service } = this.target(connection, body);
    const clusters = typeof body.clusters === 'string' ? body.clusters : '';
    const key = `${namespace}|${service}`;
    if (body.subscribe === true) {
      connection.subscriptions.add(key);
      this.onSubscribed(connection, namespace, service);
    } else {
      connection.subscriptions.delete(key);
    }
    return { message: 'success', serviceInfo: serviceInfoJson(this.store, namespace, service, clusters, false, Date.now()) };
  }

  query(connection: GrpcTestConnection, body: Body): Body {
    const { namespace, service } = this.target(connection, body);
    const cluster = typeof body.cluster === 'string' ? body.cluster : '';
    return { serviceInfo: serviceInfoJson(this.store, namespace, service, cluster, body.healthyOnly === true, Date.now()) };
  }

  list(body: Body): Body {
    const namespace = typeof body.namespace === 'string' ? body.namespace : '';
    const group = typeof body.groupName === 'string' && body.groupName ? body.groupName : undefined;
    const pageNo = Math.max(1, Number(body.pageNo ?? 1));
    const pageSize = Math.max(1, Number(body.pageSize ?? 10));
    const names = this.store.services(namespace).filter((s) => !group || s.startsWith(`${group}@@`));
    return { count: names.length, serviceNames: names.slice((pageNo - 1) * pageSize, pageNo * pageSize) };
  }

  /** `ParamCheckRule` + the handler's own checks; -401 for a connection without a naming client. */
  private target(connection: GrpcTestConnection, body: Body): { namespace: string; service: string } {
    if (!connection.naming) throw new NamingRefusal(-401, `Client [${connection.id}] connection without naming module`);
    const namespace = typeof body.namespace === 'string' ? body.namespace : '';
    const serviceName = body.serviceName;
    const groupName = body.groupName;
    if (typeof serviceName !== 'string' || serviceName === '') throw new NamingRefusal(400, 'Param serviceName is required');
    if (typeof groupName !== 'string' || groupName === '') throw new NamingRefusal(400, 'Param groupName is required');
    for (const [field, value] of [['serviceName', serviceName], ['groupName', groupName]] as const) {
      if (value.includes('@@') || value.startsWith('@') || /\s/.test(value)) throw new NamingRefusal(400, `Param '${field}' is illegal`);
    }
    if (/\s/.test(namespace) || namespace.length > 64) throw new NamingRefusal(400, "Param 'namespace' is illegal");
    return { namespace, service: groupedName(serviceName, groupName) };
  }

  /** The server fills instanceId (before it defaults an empty cluster) and the grouped serviceName. */
  private instanceOf(raw: unknown, service: string): GrpcStoredInstance {
    if (raw === null || typeof raw !== 'object') throw new NamingRefusal(400, 'instance required');
    const i = raw as Record<string, unknown>;
    const port = Number(i.port);
    if (typeof i.ip !== 'string' || i.ip === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new NamingRefusal(400, 'instance ip/port illegal');
    }
    const weight = i.weight === undefined ? 1 : Number(i.weight);
    if (!Number.isFinite(weight) || weight < 0 || weight > 10_000) throw new NamingRefusal(400, 'The weights range from 0.0 to 10000.0');
    const clusterName = typeof i.clusterName === 'string' ? i.clusterName : '';
    if (clusterName !== '' && !/^[0-9a-zA-Z-]+$/.test(clusterName)) {
      throw new NamingRefusal(400, `Instance 'clusterName' should be characters with only 0-9a-zA-Z-. (current: ${clusterName})`);
    }
    const metadata: Record<string, string> = {};
    if (i.metadata && typeof i.metadata === 'object') {
      for (const [k, v] of Object.entries(i.metadata as Record<string, unknown>)) metadata[k] = String(v);
    }
    const instanceId = typeof i.instanceId === 'string' && i.instanceId ? i.instanceId : `${i.ip}#${port}#${clusterName}#${service}`;
    return {
      instanceId,
      ip: i.ip,
      port,
      weight,
      healthy: i.healthy !== false,
      enabled: i.enabled !== false,
      // The InstanceRequest path stores every instance as ephemeral.
      ephemeral: true,
      clusterName: clusterName || DEFAULT_CLUSTER,
      serviceName: service,
      metadata,
    };
  }
}
