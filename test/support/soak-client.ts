import type { ReadPacket, WritePacket } from '@nestjs/microservices';
import { MsRpcClient, type MsRpcClientDeps } from '../../lib/client/ms-rpc-client.js';
import type { MsRpcClientOptions } from '../../lib/client/client-options.js';

/** Counts what the transport hands to Nest per call, below rxjs (which would hide a second answer). */
export interface PacketAudit {
  /** Terminal packets (`err` or `isDisposed`) after the first one, over every call. */
  extraTerminals: number;
  /** Packets of any kind that arrived after a call's terminal packet. */
  afterEnd: number;
  /** Non-terminal value packets (a unary call should have none: its answer is one End). */
  streamValues: number;
}

/**
 * The soak's consumer: a plain MsRpcClient whose `publish()` (what `send()` drives) is watched.
 * Nest's observer completes on the first terminal packet and drops anything after it, so a call
 * answered twice would be invisible through `send()`; here every packet the transport delivers
 * is counted before Nest sees it.
 */
export class SoakClient extends MsRpcClient {
  readonly audit: PacketAudit = { extraTerminals: 0, afterEnd: 0, streamValues: 0 };

  constructor(options: Partial<MsRpcClientOptions>, deps: MsRpcClientDeps) {
    super(options, deps);
  }

  protected override publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    let ended = false;
    const audit = this.audit;
    return super.publish(packet, (p) => {
      const terminal = (p.err !== undefined && p.err !== null) || p.isDisposed === true;
      if (ended) {
        audit.afterEnd++;
        if (terminal) audit.extraTerminals++;
      } else if (!terminal) {
        audit.streamValues++;
      }
      if (terminal) ended = true;
      callback(p);
    });
  }
}
