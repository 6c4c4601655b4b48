export { classifySupabaseError } from './classify-supabase-error.js';
export { createSupabaseDriver, type SupabaseDriver } from './supabase-driver.js';
export {
  DEFAULT_HEALTH_CHECK_RPC,
  type SupabaseClientFactory,
  type SupabaseClientOptionsLike,
  type SupabaseDriverOptions,
  type SupabaseHealthCheckOptions,
} from './supabase-driver-options.js';
export {
  type SupabasePoolerConfig,
  type SupabasePoolerMode,
  type SupabasePoolerOptions,
  supabasePoolerConfig,
} from './supabase-pooler-config.js';
export {
  SupabaseRequestError,
  type SupabaseRequestErrorDetails,
} from './supabase-request-error.js';
