import {
  BadGatewayException,
  BadRequestException,
  GatewayTimeoutException,
  HttpException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { MsRpcError, RpcTimeoutError } from '../../lib/index.js';

/**
 * What an RPC failure means to an HTTP caller:
 * - a timeout → 504, any other transport error (no provider, connection lost...) → 503;
 * - Nest's generic `{ status: 'error', message: 'Internal server error' }` (the handler crashed) → 502;
 * - anything else the provider answered is an `RpcException` it threw on purpose → 400, body as sent.
 */
export function rpcToHttp(err: unknown): HttpException {
  if (err instanceof HttpException) return err;
  if (err instanceof RpcTimeoutError) return new GatewayTimeoutException({ code: err.code, message: err.message });
  if (err instanceof MsRpcError) return new ServiceUnavailableException({ code: err.code, message: err.message });
  if (err instanceof Error) return new BadGatewayException(err.message);
  if (isObject(err) && err.status === 'error') return new BadGatewayException(err);
  return new BadRequestException(isObject(err) ? err : { message: String(err) });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
