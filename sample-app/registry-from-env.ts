import { Logger } from '@nestjs/common';
import { NacosRegistry } from '../lib/index.js';

/**
 * Nacos mode when NACOS_SERVER is set (e.g. '127.0.0.1:8848', or a comma-separated list),
 * direct mode otherwise. NACOS_NAMESPACE, NACOS_USERNAME and NACOS_PASSWORD are optional.
 */
export function registryFromEnv(component: string): NacosRegistry | undefined {
  const serverList = process.env.NACOS_SERVER;
  if (!serverList) return undefined;
  return new NacosRegistry({
    serverList,
    namespace: process.env.NACOS_NAMESPACE || 'public',
    username: process.env.NACOS_USERNAME || undefined,
    password: process.env.NACOS_PASSWORD || undefined,
    logger: new Logger(`Nacos:${component}`),
  });
}
