import { InvalidOptionError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { parseNewOrder } from './orders.js';

describe('parseNewOrder', () => {
  it('accepts a customer and an integer amount, trimming the name', () => {
    expect(parseNewOrder({ customer: '  ada ', amountCents: 1_250 })).toEqual({
      customer: 'ada',
      amountCents: 1_250,
    });
  });

  it.each([
    [null, 'body'],
    [[], 'body'],
    ['ada', 'body'],
    [{ amountCents: 1 }, 'customer'],
    [{ customer: '   ', amountCents: 1 }, 'customer'],
    [{ customer: 'x'.repeat(101), amountCents: 1 }, 'customer'],
    [{ customer: 'ada' }, 'amountCents'],
    [{ customer: 'ada', amountCents: 0 }, 'amountCents'],
    [{ customer: 'ada', amountCents: 1.5 }, 'amountCents'],
    [{ customer: 'ada', amountCents: '100' }, 'amountCents'],
    [{ customer: 'ada', amountCents: 100_000_001 }, 'amountCents'],
  ])('refuses %j, naming %s', (body, field) => {
    let caught: unknown;
    try {
      parseNewOrder(body);
    } catch (error) {
      caught = error;
    }
    expect(InvalidOptionError.isInstance(caught)).toBe(true);
    expect((caught as InvalidOptionError).option).toBe(field);
  });
});
