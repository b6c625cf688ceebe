export * from './service-instance.js';
export * from './registration.js';
export * from './registry.js';
export * from './static-registry.js';
export * from './nacos-registry-options.js';
export { NacosRegistry } from './nacos-registry.js';
