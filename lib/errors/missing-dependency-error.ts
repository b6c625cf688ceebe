import { MsRpcError } from './ms-rpc-error.js';

/**
 * A feature that was configured needs an optional package that is not installed (or failed to
 * load): e.g. a NacosRegistry with `protocol: 'http'` needs `nacos`. The message names the
 * command that fixes it (`npm install nacos`); `cause` is the loader's own error.
 */
export class MissingDependencyError extends MsRpcError {
  constructor(
    /** The packages to install, e.g. `['@grpc/grpc-js', 'protobufjs']`. */
    readonly packages: readonly string[],
    /** What needed them, e.g. `Nacos over gRPC (protocol: 'grpc')`. */
    readonly feature: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause;
    const why = cause instanceof Error ? cause.message : cause === undefined ? '' : String(cause);
    super(
      'ERR_MISSING_DEPENDENCY',
      `${feature} needs the optional package${packages.length > 1 ? 's' : ''} ${packages.join(' and ')}: ` +
        `npm install ${packages.join(' ')}${why ? ` (${why.split('\n')[0]})` : ''}`,
      options,
    );
  }
}
