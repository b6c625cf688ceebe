import { quotePeer } from '../common/logger.js';
import { RegistryError } from './registry-error.js';

/**
 * A Nacos server answered a gRPC request with a failure: `resultCode` is not 200 (filters answer
 * the handler's response type with resultCode 500 and the reason in `errorCode`; exceptions come
 * back as `ErrorResponse`). Common `errorCode`s: 300 server starting, 301 connection not yet
 * registered, 403 no right (auth), 400 bad parameter, 503 over threshold.
 */
export class NacosServerError extends RegistryError {
  constructor(
    /** Java class name of the answer, e.g. `InstanceResponse` or `ErrorResponse`. */
    readonly responseType: string,
    readonly resultCode: number,
    readonly errorCode: number,
    detail: string,
  ) {
    // The server's own words, quoted and cut: they end up in log lines.
    super(`Nacos answered ${/^[\w.$]{1,80}$/.test(responseType) ? responseType : quotePeer(responseType)} resultCode ${resultCode} errorCode ${errorCode}${detail ? `: ${quotePeer(detail, 160)}` : ''}`);
  }
}
