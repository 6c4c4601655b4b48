export {
  requireCapability,
  requireLocalPostgres,
  type SkippableContext,
  skipWithReason,
} from './require-capability.js';
export {
  type DriverConformanceOptions,
  type DriverConformanceTarget,
  runDriverConformance,
} from './run-driver-conformance.js';
export { type SilentListener, startSilentListener } from './silent-listener.js';
