import type { PostgresServer } from '@enhanced-pool/testing';

/**
 * What the tests' database holds: a `todos` table, an `add(a, b)` function, and a stand-in for
 * pg_graphql's `graphql_public.graphql`, the default health check on Supabase (the test
 * server's PostgreSQL has no pg_graphql).
 */
export async function prepareSupabaseDatabase(server: PostgresServer): Promise<void> {
  await server.query(`
    CREATE TABLE IF NOT EXISTS public.todos (id serial PRIMARY KEY, title text UNIQUE NOT NULL);
    CREATE OR REPLACE FUNCTION public.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';
    CREATE SCHEMA IF NOT EXISTS graphql_public;
    CREATE OR REPLACE FUNCTION graphql_public.graphql(
      "operationName" text DEFAULT NULL, query text DEFAULT NULL,
      variables jsonb DEFAULT NULL, extensions jsonb DEFAULT NULL
    ) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"data":{"__typename":"Query"}}'::jsonb $$;
  `);
}
