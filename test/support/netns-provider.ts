import { Controller, Inject, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { MsRpcServer } from '../../lib/index.js';
import { sleep } from './loopback-utils.js';

/** The provider's name, answered by every handler so a caller knows who served it. */
class ProviderName {
  constructor(readonly value: string) {}
}

@Controller()
class PartitionController {
  constructor(@Inject(ProviderName) private readonly name: ProviderName) {}

  /** Instant answer: the continuous load of a partition test. */
  @MessagePattern('where')
  where() {
    return this.name.value;
  }

  /** Answers after `ms`: a call still in flight when the link drops. Declared idempotent by the tests. */
  @MessagePattern('slow')
  async slow(@Payload() data: { ms: number }) {
    await sleep(data.ms);
    return this.name.value;
  }

  /** Same as `slow`, never declared idempotent: must fail, not be retried, when its provider is cut off. */
  @MessagePattern('slow-once')
  async slowOnce(@Payload() data: { ms: number }) {
    await sleep(data.ms);
    return this.name.value;
  }
}

@Module({})
class PartitionProviderModule {
  static named(name: string): DynamicModule {
    return {
      module: PartitionProviderModule,
      controllers: [PartitionController],
      providers: [{ provide: ProviderName, useValue: new ProviderName(name) }],
    };
  }
}

export interface PartitionProvider {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A Nest microservice served by a real MsRpcServer on `host` (port 0), whose handlers answer
 * with `name`. The same code runs in this process (the loopback provider) and in a child
 * inside a network namespace (netns-provider-main.ts).
 */
export async function startPartitionProvider(name: string, host: string): Promise<PartitionProvider> {
  const server = new MsRpcServer({ host, port: 0, shutdownTimeout: 300 });
  const app = await NestFactory.createMicroservice(PartitionProviderModule.named(name), {
    strategy: server,
    logger: false,
  });
  await app.listen();
  let closing: Promise<void> | undefined;
  return {
    name,
    host,
    port: server.port,
    address: `${host}:${server.port}`,
    close: () => (closing ??= app.close()),
  };
}
