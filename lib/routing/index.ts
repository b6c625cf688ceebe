export * from './routing-options.js';
export { RetryBudget } from './retry-budget.js';
export { OutlierDetector } from './outlier-detector.js';
export { PatternIndex } from './pattern-index.js';
export type { PatternKind } from './pattern-index.js';
export { isRetryable } from './retry-policy.js';
