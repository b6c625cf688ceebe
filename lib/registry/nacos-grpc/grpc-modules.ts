import type * as GrpcJs from '@grpc/grpc-js';
import { loadOptionalPackage } from '../../common/optional-package.js';
import { MissingDependencyError } from '../../errors/missing-dependency-error.js';
import { GRPC_FEATURE, loadPayloadCodec, type PayloadCodec } from './payload-codec.js';

/** The optional dependencies of the gRPC registry, loaded together. */
export interface GrpcModules {
  grpc: typeof GrpcJs;
  codec: PayloadCodec;
}

/**
 * Imports `@grpc/grpc-js` and `protobufjs` on first use, so that applications that never create a
 * gRPC Nacos registry (direct mode, `protocol: 'http'`) neither load nor need them.
 * @throws MissingDependencyError naming every one of the two that is missing.
 */
export async function loadGrpcModules(): Promise<GrpcModules> {
  const [grpc, codec] = await Promise.allSettled([
    loadOptionalPackage<typeof GrpcJs>(GRPC_FEATURE, ['@grpc/grpc-js'], () => import('@grpc/grpc-js')),
    loadPayloadCodec(),
  ]);
  if (grpc.status === 'fulfilled' && codec.status === 'fulfilled') return { grpc: grpc.value, codec: codec.value };
  const failures = [grpc, codec].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const missing = failures.flatMap((err) => (err instanceof MissingDependencyError ? err.packages : []));
  if (missing.length === 0) throw failures[0];
  const first = failures[0] as MissingDependencyError;
  throw new MissingDependencyError(missing, GRPC_FEATURE, { cause: first.cause });
}
