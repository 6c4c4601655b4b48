export {
  requireCapability,
  requireLocalPostgres,
  type SkippableContext,
  skipWithReason,
} from './require-capability.js';
export {
  CONFORMANCE_EXEC_FUNCTION,
  type DriverConformanceOptions,
  type DriverConformanceProtocol,
  type DriverConformanceTarget,
  runDriverConformance,
} from './run-driver-conformance.js';
export { type SilentListener, startSilentListener } from './silent-listener.js';
