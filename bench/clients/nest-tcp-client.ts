import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import type { EchoClient } from './echo-client.js';

/** Nest's built-in TCP client, used exactly as applications use it. */
export function createNestTcpClient(port: number): EchoClient {
  const client: ClientProxy = ClientProxyFactory.create({
    transport: Transport.TCP,
    options: { host: '127.0.0.1', port },
  });
  return {
    connect: async () => {
      await client.connect();
    },
    echo: (payload) => lastValueFrom(client.send('echo', payload)),
    close: async () => {
      await client.close();
    },
  };
}
