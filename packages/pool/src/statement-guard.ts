/*
 * Finds statements that would leave session state behind on a connection other callers share
 * (`pool.query()`): transaction control, session settings, LISTEN, cursors, prepared statements,
 * temporary objects, session advisory locks. It reads SQL the way PostgreSQL's lexer does as far
 * as that matters here: comments (`--`, nested `/* *\/`), string literals ('…', E'…' with
 * backslash escapes, $tag$…$tag$), quoted identifiers and top-level `;` between statements, so
 * a keyword inside a comment or a string is never mistaken for one, and a `BEGIN` hidden after
 * a comment or behind another statement is still found.
 */

/** Statements refused by their first keyword, and how the error names them. */
const REFUSED_FIRST_WORDS: ReadonlyMap<string, string> = new Map([
  ['begin', 'BEGIN (a transaction)'],
  ['start', 'START TRANSACTION'],
  ['commit', 'COMMIT'],
  ['end', 'END (a commit)'],
  ['rollback', 'ROLLBACK'],
  ['abort', 'ABORT (a rollback)'],
  ['savepoint', 'SAVEPOINT'],
  ['release', 'RELEASE SAVEPOINT'],
  ['prepare', 'PREPARE (a prepared statement or transaction)'],
  ['execute', 'EXECUTE (of a prepared statement)'],
  ['deallocate', 'DEALLOCATE'],
  ['listen', 'LISTEN'],
  ['unlisten', 'UNLISTEN'],
  ['declare', 'DECLARE (a cursor)'],
  ['fetch', 'FETCH (from a cursor)'],
  ['move', 'MOVE (a cursor)'],
  ['close', 'CLOSE (a cursor)'],
  ['reset', 'RESET (a session setting)'],
  ['discard', 'DISCARD'],
  ['load', 'LOAD (a library into the session)'],
]);

/** `SET` followed by these changes nothing beyond the statement's own transaction. */
const TRANSACTION_SCOPED_SET: ReadonlySet<string> = new Set([
  'local',
  'constraints',
  'transaction',
]);

/** Functions whose effect outlives the statement: session advisory locks. */
const SESSION_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
  'pg_advisory_unlock',
  'pg_advisory_unlock_shared',
  'pg_advisory_unlock_all',
]);

const WORD = 0;
const QUOTED = 1;
const PUNCT = 2;

interface Token {
  readonly kind: typeof WORD | typeof QUOTED | typeof PUNCT;
  /** Lower-cased for words, as written for quoted identifiers, the character for punctuation. */
  readonly value: string;
}

const CACHE_LIMIT = 512;
const CACHEABLE_LENGTH = 2_000;
/** Verdicts by statement text: applications send the same few texts over and over. */
const verdicts = new Map<string, string | null>();

/**
 * What in `text` would leave session state on a shared connection, in words for an error
 * message (e.g. `BEGIN (a transaction)`, `statement 2: SET without LOCAL`), or `undefined` when
 * every statement in it is safe to share. Never quotes the text itself: it may hold secrets.
 */
export function findSessionStatement(text: string): string | undefined {
  const cached = verdicts.get(text);
  if (cached !== undefined) return cached ?? undefined;
  const verdict = judge(text);
  if (text.length <= CACHEABLE_LENGTH) {
    if (verdicts.size >= CACHE_LIMIT) verdicts.clear();
    verdicts.set(text, verdict ?? null);
  }
  return verdict;
}

function judge(text: string): string | undefined {
  const statements = tokenize(text);
  for (let index = 0; index < statements.length; index++) {
    const found = judgeStatement(statements[index]!);
    if (found !== undefined) {
      return statements.length > 1 ? `statement ${index + 1}: ${found}` : found;
    }
  }
  return undefined;
}

function isWord(token: Token | undefined, value: string): boolean {
  return token !== undefined && token.kind === WORD && token.value === value;
}

function judgeStatement(tokens: readonly Token[]): string | undefined {
  // A parenthesised query, `(SELECT …) UNION (…)`, starts at its first word.
  let start = 0;
  while (start < tokens.length && tokens[start]!.kind === PUNCT) start++;
  const first = tokens[start];
  if (first === undefined) return undefined;
  if (first.kind === WORD) {
    const refused = REFUSED_FIRST_WORDS.get(first.value);
    if (refused !== undefined) return refused;
    const second = tokens[start + 1];
    if (first.value === 'set') {
      if (second?.kind === WORD && TRANSACTION_SCOPED_SET.has(second.value)) {
        return findSessionFunction(tokens);
      }
      return 'SET without LOCAL (a session setting)';
    }
    if (first.value === 'create' && createsTemporary(tokens, start + 1)) {
      return 'CREATE TEMPORARY (an object of the session)';
    }
    if (selectsIntoTemporary(tokens, start))
      return 'SELECT INTO TEMPORARY (a table of the session)';
  }
  return findSessionFunction(tokens);
}

const CREATE_PREFIXES: ReadonlySet<string> = new Set(['or', 'replace', 'global', 'local']);

/** `CREATE [OR REPLACE] [GLOBAL | LOCAL] TEMP | TEMPORARY …` */
function createsTemporary(tokens: readonly Token[], from: number): boolean {
  for (let index = from; index < Math.min(tokens.length, from + 5); index++) {
    const token = tokens[index]!;
    if (token.kind !== WORD) return false;
    if (token.value === 'temp' || token.value === 'temporary') return true;
    if (!CREATE_PREFIXES.has(token.value)) return false;
  }
  return false;
}

/** `SELECT … INTO [GLOBAL | LOCAL] TEMP | TEMPORARY [TABLE] name` */
function selectsIntoTemporary(tokens: readonly Token[], start: number): boolean {
  const first = tokens[start]!.value;
  if (first !== 'select' && first !== 'with') return false;
  for (let index = start + 1; index < tokens.length - 1; index++) {
    if (!isWord(tokens[index], 'into')) continue;
    let next = index + 1;
    if (isWord(tokens[next], 'global') || isWord(tokens[next], 'local')) next++;
    if (isWord(tokens[next], 'temp') || isWord(tokens[next], 'temporary')) return true;
  }
  return false;
}

/** A call of a session-level function anywhere in the statement (a CTE, a subquery, …). */
function findSessionFunction(tokens: readonly Token[]): string | undefined {
  for (let index = 0; index < tokens.length - 1; index++) {
    const token = tokens[index]!;
    if (token.kind === PUNCT || tokens[index + 1]!.value !== '(') continue;
    if (tokens[index + 1]!.kind !== PUNCT) continue;
    const name = token.value;
    if (SESSION_FUNCTIONS.has(name)) return `${name}() (a session advisory lock)`;
    if (name === 'set_config' && !isLocalSetConfig(tokens, index + 2)) {
      return 'set_config() without is_local true (a session setting)';
    }
  }
  return undefined;
}

/** `set_config(name, value, true)`: only a literal `true` as third argument is transaction-local. */
function isLocalSetConfig(tokens: readonly Token[], from: number): boolean {
  let depth = 1;
  let argument = 0;
  const third: Token[] = [];
  for (let index = from; index < tokens.length && depth > 0; index++) {
    const token = tokens[index]!;
    if (token.kind === PUNCT && token.value === '(') depth++;
    else if (token.kind === PUNCT && token.value === ')') depth--;
    else if (token.kind === PUNCT && token.value === ',' && depth === 1) {
      argument++;
      continue;
    }
    if (depth > 0 && argument === 2) third.push(token);
  }
  return third.length === 1 && isWord(third[0], 'true');
}

// ---------------------------------------------------------------------------------------------
// The lexer: tokens of each top-level statement, comments and literals skipped.

const SEMICOLON = 59;
const QUOTE = 39;
const DOUBLE_QUOTE = 34;
const DOLLAR = 36;
const DASH = 45;
const SLASH = 47;
const STAR = 42;
const BACKSLASH = 92;

function isWordStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 95 || code >= 128;
}

function isWordPart(code: number): boolean {
  return isWordStart(code) || (code >= 48 && code <= 57) || code === DOLLAR;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Splits `text` into statements of tokens; what the server would ignore is dropped. */
export function tokenize(text: string): Token[][] {
  const statements: Token[][] = [];
  let tokens: Token[] = [];
  const length = text.length;
  let index = 0;
  while (index < length) {
    const code = text.charCodeAt(index);
    if (code <= 32) {
      index++;
    } else if (code === DASH && text.charCodeAt(index + 1) === DASH) {
      const end = text.indexOf('\n', index + 2);
      index = end === -1 ? length : end + 1;
    } else if (code === SLASH && text.charCodeAt(index + 1) === STAR) {
      index = skipBlockComment(text, index + 2);
    } else if (code === QUOTE) {
      index = skipString(text, index + 1, false);
      tokens.push({ kind: PUNCT, value: "'" });
    } else if (code === DOUBLE_QUOTE) {
      const end = skipQuotedIdentifier(text, index + 1);
      tokens.push({ kind: QUOTED, value: text.slice(index + 1, end - 1).replaceAll('""', '"') });
      index = end;
    } else if (code === DOLLAR) {
      index = skipDollar(text, index, tokens);
    } else if (isWordStart(code)) {
      let end = index + 1;
      while (end < length && isWordPart(text.charCodeAt(end))) end++;
      const word = text.slice(index, end).toLowerCase();
      // E'…' is a string with backslash escapes.
      if (word === 'e' && text.charCodeAt(end) === QUOTE) {
        index = skipString(text, end + 1, true);
        tokens.push({ kind: PUNCT, value: "'" });
      } else {
        tokens.push({ kind: WORD, value: word });
        index = end;
      }
    } else if (isDigit(code)) {
      let end = index + 1;
      while (end < length && (isWordPart(text.charCodeAt(end)) || text.charCodeAt(end) === 46)) {
        end++;
      }
      tokens.push({ kind: PUNCT, value: '0' });
      index = end;
    } else if (code === SEMICOLON) {
      if (tokens.length > 0) statements.push(tokens);
      tokens = [];
      index++;
    } else {
      tokens.push({ kind: PUNCT, value: text[index]! });
      index++;
    }
  }
  if (tokens.length > 0) statements.push(tokens);
  return statements;
}

/** Past the end of a block comment that opened before `from`; they nest in PostgreSQL. */
function skipBlockComment(text: string, from: number): number {
  let depth = 1;
  let index = from;
  while (index < text.length && depth > 0) {
    const code = text.charCodeAt(index);
    if (code === SLASH && text.charCodeAt(index + 1) === STAR) {
      depth++;
      index += 2;
    } else if (code === STAR && text.charCodeAt(index + 1) === SLASH) {
      depth--;
      index += 2;
    } else index++;
  }
  return index;
}

/** Past the closing quote of a string whose opening quote is just before `from`. */
function skipString(text: string, from: number, backslashEscapes: boolean): number {
  let index = from;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (backslashEscapes && code === BACKSLASH) index += 2;
    else if (code === QUOTE) {
      if (text.charCodeAt(index + 1) === QUOTE) index += 2;
      else return index + 1;
    } else index++;
  }
  return index;
}

function skipQuotedIdentifier(text: string, from: number): number {
  let index = from;
  while (index < text.length) {
    if (text.charCodeAt(index) === DOUBLE_QUOTE) {
      if (text.charCodeAt(index + 1) === DOUBLE_QUOTE) index += 2;
      else return index + 1;
    } else index++;
  }
  return index;
}

/** `$1` (a parameter), `$tag$…$tag$` or `$$…$$` (a dollar-quoted string), else a lone `$`. */
function skipDollar(text: string, index: number, tokens: Token[]): number {
  const next = text.charCodeAt(index + 1);
  if (isDigit(next)) {
    let end = index + 1;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    tokens.push({ kind: PUNCT, value: '$' });
    return end;
  }
  let end = index + 1;
  if (next !== DOLLAR) {
    if (!isWordStart(next) || next === DOLLAR) {
      tokens.push({ kind: PUNCT, value: '$' });
      return index + 1;
    }
    while (
      end < text.length &&
      isWordPart(text.charCodeAt(end)) &&
      text.charCodeAt(end) !== DOLLAR
    ) {
      end++;
    }
    if (text.charCodeAt(end) !== DOLLAR) {
      tokens.push({ kind: PUNCT, value: '$' });
      return index + 1;
    }
  }
  const tag = text.slice(index, end + 1);
  const close = text.indexOf(tag, end + 1);
  tokens.push({ kind: PUNCT, value: "'" });
  return close === -1 ? text.length : close + tag.length;
}
