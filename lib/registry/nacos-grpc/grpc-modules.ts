import type * as GrpcJs from '@grpc/grpc-js';
import { RegistryError } from '../../errors/registry-error.js';
import { loadPayloadCodec, type PayloadCodec } from './payload-codec.js';

/** The optional dependencies of the gRPC registry, loaded together. */
export interface GrpcModules {
  grpc: typeof GrpcJs;
  codec: PayloadCodec;
}

/**
 * Imports `@grpc/grpc-js` and `protobufjs` on first use, so that applications that never create a
 * gRPC Nacos registry (direct mode, `protocol: 'http'`) neither load nor need them.
 * @throws RegistryError naming the packages to install when one is missing.
 */
export async function loadGrpcModules(): Promise<GrpcModules> {
  try {
    const [grpc, codec] = await Promise.all([import('@grpc/grpc-js'), loadPayloadCodec()]);
    // CommonJS under ESM: the namespace is the `default` export (named exports may be missing).
    return { grpc: (grpc as unknown as { default?: typeof GrpcJs }).default ?? grpc, codec };
  } catch (err) {
    throw new RegistryError(
      'Nacos over gRPC needs the optional packages @grpc/grpc-js and protobufjs: npm install @grpc/grpc-js protobufjs ' +
        `(${(err as Error)?.message ?? String(err)})`,
      { cause: err },
    );
  }
}
