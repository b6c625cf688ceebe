import { BaseRpcContext } from '@nestjs/microservices';
import type { Metadata } from '../protocol/message.js';

type MsRpcContextArgs = [remoteAddress: string, pattern: string, requestId: number, metadata: Metadata];

/**
 * What `@Ctx()` gives a handler served by {@link MsRpcServer}: who called, with which pattern,
 * under which request id (0 for events), and the packet metadata the caller attached
 * (e.g. through `ClientProxy.setOnDispatchHook` or a record's metadata).
 */
export class MsRpcContext extends BaseRpcContext<MsRpcContextArgs> {
  constructor(args: MsRpcContextArgs) {
    super(args);
  }

  /** `host:port` of the calling socket. */
  getRemoteAddress(): string {
    return this.args[0];
  }

  getPattern(): string {
    return this.args[1];
  }

  /** The request id on the wire; 0 for events, which have none. */
  getRequestId(): number {
    return this.args[2];
  }

  /** Packet metadata; an empty object when the caller sent none. */
  getMetadata(): Metadata {
    return this.args[3];
  }
}
