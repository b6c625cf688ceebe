export type { Balancer, Candidate, PickContext } from './balancer.js';
export { candidateWeight } from './balancer.js';
export { WeightedRandomBalancer } from './weighted-random-balancer.js';
export { SmoothRoundRobinBalancer } from './round-robin-balancer.js';
export { LeastActiveBalancer } from './least-active-balancer.js';
export { ConsistentHashBalancer, MAX_VIRTUAL_NODES } from './consistent-hash-balancer.js';
export type { ConsistentHashInit } from './consistent-hash-balancer.js';
export {
  WarmupBalancer,
  DEFAULT_WARMUP_MS,
  MIN_WARMUP_FACTOR,
  providerStartTime,
  warmupFactor,
} from './warmup-balancer.js';
export { fnv1a32, fmix32, ringHash } from './hash.js';
export {
  BUILTIN_BALANCER_NAMES,
  BALANCER_OPTION_KEYS,
  DEFAULT_BALANCER_OPTIONS,
  resolveBalancerOptions,
} from './balancer-options.js';
export type { BalancerOptions, BuiltinBalancerName, HashKeyFunction } from './balancer-options.js';
export { BalancerRegistry, createBalancer } from './balancer-registry.js';
export type { BalancerDeps, BalancerFactory } from './balancer-registry.js';
