export {
  createRedisBreakerStore,
  type RedisBreakerStore,
  type RedisBreakerStoreOptions,
  type RedisClientLike,
  type RedisSubscriberLike,
} from './redis-breaker-store.js';
