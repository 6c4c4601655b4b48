import { errorAnswer, type PostgrestErrorAnswer } from './postgrest-errors.js';

/** One statement with its parameters. */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** What a parsed request asks of the database. */
export type PostgrestPlan =
  | {
      readonly kind: 'read';
      readonly schema: string;
      readonly table: string;
      readonly statement: SqlStatement;
      readonly head: boolean;
      readonly single: boolean;
      readonly count: boolean;
    }
  | {
      readonly kind: 'insert';
      readonly schema: string;
      readonly table: string;
      readonly statement: SqlStatement;
      readonly returnRows: boolean;
    }
  | {
      readonly kind: 'rpc';
      readonly schema: string;
      readonly name: string;
      readonly args: Readonly<Record<string, unknown>>;
      readonly head: boolean;
      readonly readOnly: boolean;
    };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_PARAMS = new Set(['select', 'limit', 'offset', 'order', 'columns', 'on_conflict']);
const OPERATORS: Record<string, string> = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  like: 'LIKE',
  ilike: 'ILIKE',
};

/** `"name"`, with embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function parseError(message: string, details: string | null = null): PostgrestErrorAnswer {
  return errorAnswer(400, 'PGRST100', message, details);
}

/** `*` or a list of plain column names, each optionally renamed (`alias:column`). */
function selectList(select: string | null): string | PostgrestErrorAnswer {
  if (select === null || select.trim() === '' || select.trim() === '*') return '*';
  const columns: string[] = [];
  for (const raw of select.split(',')) {
    const item = raw.trim();
    const [alias, column] = item.includes(':') ? item.split(':', 2) : [undefined, item];
    if (column === undefined || !IDENTIFIER.test(column)) {
      return parseError(
        `"failed to parse select parameter (${select})"`,
        'this test server accepts only *, column names and alias:column',
      );
    }
    if (alias !== undefined && !IDENTIFIER.test(alias)) {
      return parseError(`"failed to parse select parameter (${select})"`);
    }
    columns.push(
      alias === undefined
        ? quoteIdentifier(column)
        : `${quoteIdentifier(column)} AS ${quoteIdentifier(alias)}`,
    );
  }
  return columns.join(', ');
}

/** The WHERE clause of the `column=operator.value` filters. */
function filters(params: URLSearchParams, values: unknown[]): string | PostgrestErrorAnswer {
  const conditions: string[] = [];
  for (const [column, filter] of params) {
    if (RESERVED_PARAMS.has(column)) continue;
    if (!IDENTIFIER.test(column)) return parseError(`"failed to parse filter (${column})"`);
    const dot = filter.indexOf('.');
    const operator = dot < 0 ? filter : filter.slice(0, dot);
    const operand = dot < 0 ? '' : filter.slice(dot + 1);
    const target = quoteIdentifier(column);
    const sql = OPERATORS[operator];
    if (sql !== undefined) {
      values.push(operand);
      conditions.push(`${target} ${sql} $${values.length}`);
    } else if (operator === 'is') {
      const literal = { null: 'NULL', true: 'TRUE', false: 'FALSE' }[operand];
      if (literal === undefined) return parseError(`"failed to parse filter (${filter})"`);
      conditions.push(`${target} IS ${literal}`);
    } else if (operator === 'in' && operand.startsWith('(') && operand.endsWith(')')) {
      const items = operand.slice(1, -1).split(',');
      const placeholders = items.map((item) => {
        values.push(item.replace(/^"(.*)"$/, '$1'));
        return `$${values.length}`;
      });
      conditions.push(`${target} IN (${placeholders.join(', ')})`);
    } else {
      return parseError(`"failed to parse filter (${filter})"`);
    }
  }
  return conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
}

function orderBy(order: string | null): string | PostgrestErrorAnswer {
  if (order === null) return '';
  const terms: string[] = [];
  for (const term of order.split(',')) {
    const [column, direction = 'asc'] = term.split('.');
    if (column === undefined || !IDENTIFIER.test(column) || !/^(asc|desc)$/.test(direction)) {
      return parseError(`"failed to parse order (${order})"`);
    }
    terms.push(`${quoteIdentifier(column)} ${direction.toUpperCase()}`);
  }
  return ` ORDER BY ${terms.join(', ')}`;
}

function wholeNumber(
  name: string,
  value: string | null,
): number | undefined | PostgrestErrorAnswer {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value)) return parseError(`"failed to parse ${name} (${value})"`);
  return Number(value);
}

function isAnswer(value: unknown): value is PostgrestErrorAnswer {
  return typeof value === 'object' && value !== null && 'status' in value && 'body' in value;
}

/** What a request to `/rest/v1/…` carries, as the server read it. */
export interface PostgrestRequestParts {
  readonly method: string;
  /** The path after `/rest/v1/`, e.g. `todos` or `rpc/add`. */
  readonly resource: string;
  readonly params: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON body, `undefined` when there is none. */
  readonly body: unknown;
  readonly schemas: readonly string[];
}

/**
 * Turns a request into a plan, or into PostgREST's error answer for a request it would refuse
 * (unknown schema, unparsable select or filter, unsupported method).
 */
export function planRequest(request: PostgrestRequestParts): PostgrestPlan | PostgrestErrorAnswer {
  const { method, params, headers } = request;
  const reading = method === 'GET' || method === 'HEAD';
  const profile = reading ? headers['accept-profile'] : headers['content-profile'];
  const schema = profile ?? request.schemas[0] ?? 'public';
  if (!request.schemas.includes(schema)) {
    return errorAnswer(
      406,
      'PGRST106',
      `Invalid schema: ${schema}`,
      null,
      `Only the following schemas are exposed: ${request.schemas.join(', ')}`,
    );
  }

  const segments = request.resource.split('/').filter((segment) => segment !== '');
  if (segments.length === 2 && segments[0] === 'rpc') {
    const name = segments[1]!;
    if (!IDENTIFIER.test(name)) return parseError(`"failed to parse function name (${name})"`);
    if (!reading && method !== 'POST') {
      return errorAnswer(405, 'PGRST101', 'Only GET, HEAD and POST are allowed for functions');
    }
    let args: Record<string, unknown> = {};
    if (reading) {
      for (const [key, value] of params) args[key] = value;
    } else if (request.body !== undefined) {
      if (
        typeof request.body !== 'object' ||
        request.body === null ||
        Array.isArray(request.body)
      ) {
        return errorAnswer(400, 'PGRST102', 'Function arguments must be a JSON object');
      }
      args = request.body as Record<string, unknown>;
    }
    for (const key of Object.keys(args)) {
      if (!IDENTIFIER.test(key)) return parseError(`"failed to parse argument name (${key})"`);
    }
    return { kind: 'rpc', schema, name, args, head: method === 'HEAD', readOnly: reading };
  }
  if (segments.length !== 1 || !IDENTIFIER.test(segments[0]!)) {
    return errorAnswer(404, 'PGRST125', `Invalid path specified in request URL`);
  }
  const table = segments[0]!;
  const relation = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;

  if (reading) {
    const values: unknown[] = [];
    const columns = selectList(params.get('select'));
    if (isAnswer(columns)) return columns;
    const where = filters(params, values);
    if (isAnswer(where)) return where;
    const order = orderBy(params.get('order'));
    if (isAnswer(order)) return order;
    const limit = wholeNumber('limit', params.get('limit'));
    if (isAnswer(limit)) return limit;
    const offset = wholeNumber('offset', params.get('offset'));
    if (isAnswer(offset)) return offset;
    const count = /count=exact/.test(headers.prefer ?? '');
    const page = `${limit === undefined ? '' : ` LIMIT ${limit}`}${offset === undefined ? '' : ` OFFSET ${offset}`}`;
    const text =
      `SELECT coalesce(json_agg(row_to_json(r)), '[]'::json) AS rows` +
      (count ? `, (SELECT count(*) FROM ${relation}${where}) AS total` : '') +
      ` FROM (SELECT ${columns} FROM ${relation}${where}${order}${page}) r`;
    return {
      kind: 'read',
      schema,
      table,
      statement: { text, values },
      head: method === 'HEAD',
      single: (headers.accept ?? '').includes('application/vnd.pgrst.object+json'),
      count,
    };
  }

  if (method === 'POST') {
    const rows = Array.isArray(request.body) ? request.body : [request.body];
    if (rows.some((row) => typeof row !== 'object' || row === null || Array.isArray(row))) {
      return errorAnswer(400, 'PGRST102', 'Empty or invalid json');
    }
    const columns = [...new Set(rows.flatMap((row) => Object.keys(row as object)))];
    if (columns.some((column) => !IDENTIFIER.test(column))) {
      return parseError('"failed to parse columns"');
    }
    const list = columns.map(quoteIdentifier).join(', ');
    const returning = selectList(params.get('select'));
    if (isAnswer(returning)) return returning;
    const text =
      `WITH inserted AS (INSERT INTO ${relation} (${list}) SELECT ${list} FROM ` +
      `json_populate_recordset(NULL::${relation}, $1::json) RETURNING *) ` +
      `SELECT ${returning} FROM inserted`;
    return {
      kind: 'insert',
      schema,
      table,
      statement: { text, values: [JSON.stringify(rows)] },
      returnRows: /return=representation/.test(headers.prefer ?? ''),
    };
  }
  return errorAnswer(
    405,
    'PGRST101',
    `This test server supports GET, HEAD and POST on tables, not ${method}`,
  );
}
