import { format, types } from 'node:util';
import type { EventEmitter } from 'node:events';
import type * as NacosPackage from 'nacos';
import type { Clock } from '../common/clock.js';
import { loadOptionalPackage } from '../common/optional-package.js';
import type { MsRpcLogger } from '../common/logger.js';
import { OutageLog } from '../common/outage-log.js';
import { NacosBeatScheduler, type NacosBeatInfo } from './nacos-beat-scheduler.js';

import type { NacosHost } from './nacos-instance.js';

export type { NacosHost } from './nacos-instance.js';

export interface NacosInstanceSpec {
  ip: string;
  port: number;
  weight?: number;
  healthy?: boolean;
  enabled?: boolean;
  ephemeral?: boolean;
  clusterName?: string;
  metadata?: Record<string, string>;
}

export interface NacosSubscribeInfo {
  serviceName: string;
  groupName: string;
  clusters: string;
}

/**
 * The part of `NacosNamingClient` (nacos 2.6.x) this layer uses, typed from its source rather than
 * its bundled d.ts, which lacks close() and declares getServerStatus() synchronous.
 */
export interface NamingClient {
  ready(): Promise<void>;
  registerInstance(service: string, instance: NacosInstanceSpec, group: string): Promise<unknown>;
  deregisterInstance(service: string, instance: NacosInstanceSpec, group: string): Promise<unknown>;
  getAllInstances(service: string, group: string, clusters: string, subscribe: boolean): Promise<NacosHost[]>;
  subscribe(info: NacosSubscribeInfo, listener: (hosts: NacosHost[]) => void): void;
  unSubscribe(info: NacosSubscribeInfo, listener: (hosts: NacosHost[]) => void): void;
  getServerStatus(): Promise<'UP' | 'DOWN'>;
  close(): Promise<void>;
}

export interface NamingClientConfig {
  serverList: string[];
  namespace: string;
  username?: string;
  password?: string;
  /** HTTPS to the servers. */
  ssl?: boolean;
}

/** Private fields of nacos-naming 2.6.x touched below; every access is shape-checked first. */
interface ClientInternals {
  _serverProxy?: {
    sendBeat?: (beat: NacosBeatInfo) => Promise<number>;
    /** One request, tried on each server of the list in turn; throws when every one failed. */
    _reqAPI?: (api: string, ...rest: unknown[]) => Promise<unknown>;
    /** One request to one server. */
    _callServer?: (server: string, ...rest: unknown[]) => Promise<unknown>;
  };
  _beatReactor?: { _isClosed?: boolean; _clientBeatInterval?: number; addBeatInfo?: unknown; close?: unknown };
  _hostReactor?: EventEmitter & { _pushReceiver?: EventEmitter };
}

/** The `nacos` package (CommonJS: its `module.exports`). */
export type NacosModule = Pick<typeof NacosPackage, 'NacosNamingClient'>;

/**
 * Imports the `nacos` package (an optional peer) on first use: only `protocol: 'http'` needs it.
 * @throws MissingDependencyError saying to `npm install nacos`.
 */
export function loadNacosPackage(): Promise<NacosModule> {
  return loadOptionalPackage<NacosModule>("Nacos over HTTP (NacosRegistry protocol 'http')", ['nacos'], () => import('nacos'));
}

/**
 * Creates a `NacosNamingClient` from the loaded package and fixes two behaviours of nacos-naming 2.6.x that hurt a library:
 *
 * 1. Its BeatReactor loops `await sleep(interval)` with a non-unref'd timer that close() cannot
 *    cancel, so every client (even an unused one) keeps the process — and jest — alive for up to
 *    10 s after close(). Right after construction (before that loop's first sleep is even armed,
 *    which happens a microtask later) the original reactor is marked closed with a zero interval, so
 *    its loop ends after a single 0 ms sleep, and it is replaced by {@link NacosBeatScheduler},
 *    whose timers go through the injected clock (unref'd) and are cleared on close. The client reads
 *    `this._beatReactor` on every register/deregister/close, so the swap is complete.
 * 2. Its HostReactor and PushReceiver emit 'error' (e.g. every failed poll during an outage), which
 *    sdk-base prints to console.error with a stack unless a second listener exists; they are routed
 *    to the registry logger instead.
 * 3. During an outage it logs an error per failed beat (5 s) and a warning per failed poll and per
 *    server tried, in lines up to 600 characters. Its requests are watched instead (`_reqAPI`, which
 *    beats, polls and registrations all go through): the first failure is one warning, a request
 *    that succeeds again ends the outage with one line giving its duration ({@link OutageLog}),
 *    and the client's own lines about failures already counted go to debug.
 *
 * If a future client version changes these internals, the fixes are skipped with a warning and the
 * client still works (only the exit delay and console noise come back).
 */
export function createNamingClient(
  nacos: NacosModule,
  config: NamingClientConfig,
  logger: MsRpcLogger,
  clock: Clock,
): NamingClient {
  const reported: ReportedErrors = new WeakSet();
  const client = new nacos.NacosNamingClient({
    ...config,
    logger: nacosClientLogger(logger, (err) => isReported(reported, err)) as unknown as typeof console,
  }) as unknown as NamingClient & ClientInternals;

  const proxy = client._serverProxy;
  const reactor = client._beatReactor;
  if (reactor && typeof reactor.addBeatInfo === 'function' && typeof proxy?.sendBeat === 'function') {
    reactor._isClosed = true;
    reactor._clientBeatInterval = 0;
    client._beatReactor = new NacosBeatScheduler((beat) => proxy.sendBeat!(beat), clock) as never;
  } else {
    logger.warn('nacos client internals changed: beat loop not replaced, close() may delay process exit by up to 10 s');
  }

  watchRequests(client, reported, config.serverList, logger, clock);
  const onError = (err: unknown) => (isReported(reported, err) ? logger.debug?.(`nacos client: ${describe(err)}`) : logger.warn(`nacos client: ${describe(err)}`));
  const hostReactor = client._hostReactor;
  if (hostReactor && typeof hostReactor.on === 'function') {
    hostReactor.on('error', onError);
    if (hostReactor._pushReceiver && typeof hostReactor._pushReceiver.on === 'function') {
      hostReactor._pushReceiver.on('error', onError);
    }
  }
  (client as unknown as EventEmitter).on('error', onError);
  return client;
}

/**
 * Errors of failed requests, which the outage log reported already; filled by the request watch.
 * Per client: the set lives as long as the client that reads it.
 */
type ReportedErrors = WeakSet<object>;

function isReported(reported: ReportedErrors, value: unknown): boolean {
  return typeof value === 'object' && value !== null && reported.has(value);
}

/**
 * Wraps the client's request path: every failed request is counted in one {@link OutageLog} for
 * the registry, every request that gets an answer ends the outage; the errors counted that way go
 * into `reported`. Shape-checked: on other client versions nothing is wrapped (the client's own
 * lines stay as they are).
 */
function watchRequests(client: ClientInternals, reported: ReportedErrors, servers: readonly string[], logger: MsRpcLogger, clock: Clock): void {
  const proxy = client._serverProxy;
  const reqAPI = proxy?._reqAPI;
  const callServer = proxy?._callServer;
  if (!proxy || typeof reqAPI !== 'function' || typeof callServer !== 'function') return;
  const outage = new OutageLog(logger, clock);
  const list = servers.join(',');
  /** The last failure of one server, which says why (the request's own error only says "all servers tried"). */
  let lastFailure: unknown;
  const note = (err: unknown) => {
    if (typeof err === 'object' && err !== null) reported.add(err);
  };
  proxy._callServer = async (server: string, ...rest: unknown[]) => {
    try {
      return await callServer.call(proxy, server, ...rest);
    } catch (err) {
      note(err);
      lastFailure = err;
      throw err;
    }
  };
  proxy._reqAPI = async (api: string, ...rest: unknown[]) => {
    try {
      const answer = await reqAPI.call(proxy, api, ...rest);
      outage.recovered(`nacos: ${list} answers again`);
      return answer;
    } catch (err) {
      note(err);
      if (answered(lastFailure)) outage.recovered(`nacos: ${list} answers again`);
      else outage.failed(`nacos: ${method(rest)}${api} failed on ${list}: ${reason(lastFailure ?? err)}`);
      throw err;
    }
  };
}

/** Nacos answered, refusing this one request (a 4xx other than 403): the registry itself is up. */
function answered(err: unknown): boolean {
  const status = (err as { status?: unknown } | null | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 403;
}

function method(rest: unknown[]): string {
  return typeof rest[1] === 'string' ? `${rest[1]} ` : '';
}

/**
 * The gist of a request failure: urllib's `RequestError: connect ECONNREFUSED 10.0.0.1:8848, PUT
 * http://... -1 (connected: false, keepalive socket: false, ...)\nheaders: {}` ends at its first comma.
 */
function reason(err: unknown): string {
  const text = describe(err).split('\n')[0];
  const cut = text.search(/, (GET|PUT|POST|DELETE) https?:\/\//);
  return cut === -1 ? text : text.slice(0, cut);
}

/**
 * The client logs printf-style (`'%s ... %j'`) on info/warn/error/debug. Its info level reports
 * every registration, poll result and push, so it is demoted to debug; so are its warnings and
 * errors about a request failure the outage log counted (`counted`).
 */
export function nacosClientLogger(
  logger: MsRpcLogger,
  counted: (value: unknown) => boolean = () => false,
): Record<'debug' | 'info' | 'warn' | 'error', (...args: unknown[]) => void> {
  const text = (args: unknown[]) => `nacos client: ${format(...args.map((a) => (isError(a) ? describe(a) : a)))}`;
  const debug = (args: unknown[]) => logger.debug?.(text(args));
  return {
    debug: (...args) => debug(args),
    info: (...args) => debug(args),
    warn: (...args) => (args.some(counted) ? debug(args) : logger.warn(text(args))),
    error: (...args) => (args.some(counted) ? debug(args) : logger.error(text(args))),
  };
}

/** Errors from node core come from another realm under jest's VM modules, so no `instanceof`. */
function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

export function describe(err: unknown): string {
  return isError(err) ? `${err.name}: ${err.message}` : String(err);
}
