export {
  type AdaptiveSizer,
  createAdaptiveSizer,
  type LoadSample,
  type SizingAction,
  type SizingContext,
  type SizingDecision,
} from './adaptive-sizer.js';
export {
  type AdaptiveSizerOptions,
  type ResolvedAdaptiveSizerOptions,
  resolveAdaptiveSizerOptions,
} from './adaptive-sizer-options.js';
export { createTimeWeightedAverage, type TimeWeightedAverage } from './time-weighted-average.js';
