import { InvalidOptionError } from '@enhanced-pool/core';
import type { Pool } from '@enhanced-pool/pool';

/**
 * The one table the service owns. The name is specific so that pointing the example at a real
 * database through `DATABASE_URL` can't collide with an application's own `orders` table.
 */
export const ORDERS_TABLE = 'enhanced_pool_example_orders';

/** The smallest client shape the service queries through (a `pg.Client` fits). */
export interface Queryable {
  query<TRow = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<{ rows: TRow[] }>;
}

/** A pool whose connections can run queries. */
export type OrdersPool = Pool<Queryable>;

/** An order as the API returns it. */
export interface Order {
  readonly id: number;
  readonly customer: string;
  readonly amountCents: number;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** The body of `POST /api/orders`. */
export interface NewOrder {
  /** 1 to 100 characters. */
  readonly customer: string;
  /** An integer from 1 to 100 000 000 (one million in currency units). */
  readonly amountCents: number;
}

interface OrderRow {
  id: string | number;
  customer: string;
  amount_cents: number;
  created_at: Date | string;
}

const toOrder = (row: OrderRow): Order => ({
  id: Number(row.id),
  customer: row.customer,
  amountCents: row.amount_cents,
  createdAt: row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at,
});

/** Creates the table if it is missing. Safe to run at every start. */
export async function ensureSchema(
  pool: OrdersPool,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  await pool.withConnection(
    (client) =>
      client.query(`CREATE TABLE IF NOT EXISTS ${ORDERS_TABLE} (
        id bigserial PRIMARY KEY,
        customer text NOT NULL CHECK (length(customer) BETWEEN 1 AND 100),
        amount_cents integer NOT NULL CHECK (amount_cents > 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`),
    options,
  );
}

/**
 * Checks a request body. Throws `InvalidOptionError` naming the field, the value and what is
 * allowed, so the API answers 400 with a sentence a client can act on.
 */
export function parseNewOrder(body: unknown): NewOrder {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidOptionError('body', body, 'a JSON object { customer, amountCents }');
  }
  const { customer, amountCents } = body as Record<string, unknown>;
  if (typeof customer !== 'string' || customer.trim().length === 0 || customer.length > 100) {
    throw new InvalidOptionError('customer', customer, 'a non-blank string of 1 to 100 characters');
  }
  if (
    typeof amountCents !== 'number' ||
    !Number.isInteger(amountCents) ||
    amountCents < 1 ||
    amountCents > 100_000_000
  ) {
    throw new InvalidOptionError('amountCents', amountCents, 'an integer from 1 to 100000000');
  }
  return { customer: customer.trim(), amountCents };
}

/** Inserts an order and returns it as stored. */
export async function createOrder(
  pool: OrdersPool,
  order: NewOrder,
  options: { signal?: AbortSignal } = {},
): Promise<Order> {
  const { rows } = await pool.withConnection(
    (client) =>
      client.query<OrderRow>(
        `INSERT INTO ${ORDERS_TABLE} (customer, amount_cents) VALUES ($1, $2)
         RETURNING id, customer, amount_cents, created_at`,
        [order.customer, order.amountCents],
      ),
    options,
  );
  return toOrder(rows[0]!);
}

/** The most recent orders, newest first. */
export async function listOrders(
  pool: OrdersPool,
  options: { limit?: number; signal?: AbortSignal } = {},
): Promise<Order[]> {
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new InvalidOptionError('limit', limit, 'an integer from 1 to 500');
  }
  const { rows } = await pool.withConnection(
    (client) =>
      client.query<OrderRow>(
        `SELECT id, customer, amount_cents, created_at FROM ${ORDERS_TABLE}
         ORDER BY id DESC LIMIT $1`,
        [limit],
      ),
    options.signal === undefined ? {} : { signal: options.signal },
  );
  return rows.map(toOrder);
}

const CUSTOMERS = ['ada', 'grace', 'edsger', 'barbara', 'donald', 'frances', 'ken', 'radia'];

/**
 * The load generator's unit of work: what the service's traffic looks like, one write for
 * every nine reads, each a real statement through `pool.withConnection`.
 */
export function orderTraffic(
  pool: OrdersPool,
  random: () => number = Math.random,
): (signal: AbortSignal) => Promise<unknown> {
  return (signal) => {
    if (random() < 0.1) {
      const customer = CUSTOMERS[Math.floor(random() * CUSTOMERS.length)] ?? 'ada';
      return createOrder(
        pool,
        { customer, amountCents: 1 + Math.floor(random() * 50_000) },
        {
          signal,
        },
      );
    }
    return listOrders(pool, { limit: 10, signal });
  };
}
