import type { Driver, ErrorReason } from '@enhanced-pool/core';
import { createFakeDriver, type FakeConnection, FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { callDriver, classifyWith, errorMessage, isBrokenWith } from './driver-calls.js';

/** The fake driver with some methods replaced, for drivers that misbehave. */
function driverWith(overrides: Partial<Driver<FakeConnection>>): Driver<FakeConnection> {
  return { ...createFakeDriver(), ...overrides };
}

const connection = { id: 1 } as FakeConnection;

describe('callDriver', () => {
  it('passes a resolved value through', async () => {
    await expect(callDriver(() => Promise.resolve(42))).resolves.toBe(42);
  });

  it('turns a synchronous throw into a rejection instead of throwing at the caller', async () => {
    const failure = new Error('thrown before returning a promise');
    let result: Promise<never> | undefined;
    expect(() => {
      result = callDriver(() => {
        throw failure;
      });
    }).not.toThrow();
    await expect(result).rejects.toBe(failure);
  });

  it('passes a rejection through unchanged', async () => {
    const failure = new FakeDriverError('connection');
    await expect(callDriver(() => Promise.reject(failure))).rejects.toBe(failure);
  });
});

describe('errorMessage', () => {
  it("removes credentials from a driver error's message", () => {
    const message = errorMessage(
      new Error('connect failed for postgres://admin:hunter2@db.internal/app'),
    );
    expect(message).not.toContain('hunter2');
    expect(message).toContain('db.internal');
  });

  it('stringifies values that are not errors, redacted too', () => {
    expect(errorMessage('plain text')).toBe('plain text');
    expect(errorMessage(404)).toBe('404');
    expect(errorMessage('password=hunter2 host=db')).not.toContain('hunter2');
  });
});

describe('classifyWith', () => {
  it("returns the driver's classification", () => {
    const driver = createFakeDriver();
    expect(classifyWith(driver, new FakeDriverError('authentication'))).toBe('authentication');
  });

  it('returns unknown when the classifier itself throws', () => {
    const driver = driverWith({
      classifyError: (): ErrorReason => {
        throw new Error('classifier bug');
      },
    });
    expect(classifyWith(driver, new Error('anything'))).toBe('unknown');
  });
});

describe('isBrokenWith', () => {
  it("returns the driver's answer", async () => {
    const driver = createFakeDriver();
    const fresh = await driver.connect({ signal: new AbortController().signal });
    expect(isBrokenWith(driver, fresh)).toBe(false);
    driver.kill(fresh, { noticed: true });
    expect(isBrokenWith(driver, fresh)).toBe(true);
  });

  it('says not broken when the driver has no isBroken', () => {
    const driver = createFakeDriver({ withIsBroken: false });
    expect(isBrokenWith(driver, connection)).toBe(false);
  });

  it('counts a throwing isBroken as broken, so a confused driver never lends a bad connection', () => {
    const driver = driverWith({
      isBroken: () => {
        throw new Error('isBroken bug');
      },
    });
    expect(isBrokenWith(driver, connection)).toBe(true);
  });
});
