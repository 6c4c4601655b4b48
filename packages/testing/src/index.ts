export {
  createFakeClock,
  type FakeClock,
  type FakeClockOptions,
} from './fake-clock.js';
export {
  createFakeDriver,
  type FakeConnection,
  type FakeDriver,
  type FakeDriverCounters,
  FakeDriverError,
  type FakeDriverOptions,
} from './fake-driver.js';
