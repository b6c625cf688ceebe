export * from './backoff-options.js';
export * from './backoff.js';
export * from './idle-sweep.js';
export * from './deadline-queue.js';
export { MAX_TIMER_DELAY_MS, timerDelay } from './timer-delay.js';
