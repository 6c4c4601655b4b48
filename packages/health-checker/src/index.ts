export type {
  CheckoutForCheck,
  HealthCheckDestroyReason,
  HealthCheckPoolStats,
  HealthCheckTarget,
  IdleConnectionInfo,
} from './health-check-target.js';
export {
  createHealthChecker,
  type HealthChecker,
  type HealthCheckerEvents,
} from './health-checker.js';
export {
  type HealthCheckerOptions,
  type ResolvedHealthCheckerOptions,
  resolveHealthCheckerOptions,
} from './health-checker-options.js';
export type { HealthCheckFailure, HealthCheckStep, HealthReport } from './health-report.js';
export { checkReadiness, isLive, isReady, type ProbeState, type Readiness } from './probes.js';
