// The audience rule DSL as the server reads and prints it (src/segment/dsl.h):
//   rule    := or_expr | ""
//   or_expr := and_expr ("or" and_expr)*
//   and_expr:= unary ("and" unary)*
//   unary   := "not" unary | "(" or_expr ")" | term
//   term    := ident op literal | ident "between" literal "and" literal
//            | ident ["not"] "in" "(" literal ("," literal)* ")"
//            | ("has" | "has_any" | "has_all") "(" ident ("," literal)+ ")" | "exists" "(" ident ")"
// Keywords are case-insensitive. printRule() gives the server's canonical text (ToDsl): fewest
// parentheses, double-quoted strings, lower-case keywords, canonical numbers; so a rule the
// console prints is the text the server stores.

export type LiteralKind = 'string' | 'number' | 'bool';
export interface Literal {
  kind: LiteralKind;
  text: string; // string: the characters; number: canonical text; bool: "true" | "false"
}
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type Rule =
  | { kind: 'all' }
  | { kind: 'and' | 'or'; children: Rule[] }
  | { kind: 'not'; child: Rule }
  | { kind: 'compare'; field: string; op: CompareOp; value: Literal }
  | { kind: 'between'; field: string; low: Literal; high: Literal }
  | { kind: 'in'; field: string; values: Literal[] }
  | { kind: 'has'; field: string; mode: 'any' | 'all'; values: Literal[] }
  | { kind: 'exists'; field: string };

export class DslError extends Error {
  constructor(
    readonly column: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`column ${column}: expected ${expected}, found ${found}`);
  }
}

const KEYWORDS = new Set(['and', 'or', 'not', 'between', 'in', 'has', 'has_any', 'has_all', 'exists', 'true', 'false']);
export const MAX_NESTING = 64;

export function isIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !KEYWORDS.has(name.toLowerCase());
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

// CanonicalNumber (dsl.h): integers within int64/uint64 keep their digits; anything else goes
// through a double, 15 significant digits, fixed point without trailing zeros.
export function canonicalNumber(text: string): string | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return null;
  if (m[3] === undefined) {
    const v = BigInt(text);
    if (v >= INT64_MIN && v <= UINT64_MAX) return v.toString();
  }
  const d = Number(text);
  if (!Number.isFinite(d)) return null;
  return fixedPoint(d.toPrecision(15));
}

// "1.84467440737096e+19" -> "18446744073709600000"; "0.500000000000000" -> "0.5".
function fixedPoint(p: string): string {
  let sign = '';
  if (p.startsWith('-')) {
    sign = '-';
    p = p.slice(1);
  }
  let [mant, exp] = p.split('e');
  let e = exp ? parseInt(exp, 10) : 0;
  let [ip, fp = ''] = mant.split('.');
  let digits = ip + fp;
  let point = ip.length + e; // position of the decimal point in digits
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  } else if (point > digits.length) {
    digits = digits + '0'.repeat(point - digits.length);
  }
  let intPart = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  let frac = digits.slice(point).replace(/0+$/, '');
  const out = frac ? `${intPart}.${frac}` : intPart;
  return out === '0' ? '0' : sign + out;
}

export const str = (s: string): Literal => ({ kind: 'string', text: s });
export const num = (n: number | string): Literal => {
  const c = canonicalNumber(String(n));
  if (c === null) throw new Error(`not a number: ${n}`);
  return { kind: 'number', text: c };
};
export const bool = (b: boolean): Literal => ({ kind: 'bool', text: b ? 'true' : 'false' });

// --- lexer -------------------------------------------------------------------------------

type Tok =
  | { t: 'ident'; v: string; col: number }
  | { t: 'str'; v: string; col: number }
  | { t: 'num'; v: string; col: number }
  | { t: 'punct'; v: string; col: number }
  | { t: 'end'; col: number };

function describe(tok: Tok): string {
  switch (tok.t) {
    case 'end':
      return 'end of input';
    case 'str':
      return 'a string';
    default:
      return `'${tok.v}'`;
  }
}

function lex(text: string): Tok[] {
  const chars = Array.from(text); // Unicode characters, so columns count characters
  const out: Tok[] = [];
  let i = 0;
  const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  const isIdStart = (c: string | undefined) => c !== undefined && /[A-Za-z_]/.test(c);
  const isIdChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);
  while (i < chars.length) {
    const c = chars[i];
    const col = i + 1;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '"' || c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= chars.length) throw new DslError(i + 1, `${c} to close the string at column ${col}`, 'end of input');
        const d = chars[i];
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\') {
          const e = chars[i + 1];
          const map: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', n: '\n', r: '\r', t: '\t' };
          if (e === undefined) throw new DslError(i + 2, `${c} to close the string at column ${col}`, 'end of input');
          if (!(e in map)) throw new DslError(i + 1, 'an escape sequence (\\", \\\', \\\\, \\n, \\r or \\t)', `'\\${e}'`);
          s += map[e];
          i += 2;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ t: 'str', v: s, col });
    } else if (isDigit(c) || (c === '-' && isDigit(chars[i + 1]))) {
      let j = i + 1;
      while (isDigit(chars[j])) j++;
      if (chars[j] === '.') {
        if (!isDigit(chars[j + 1])) {
          const f = chars[j + 1];
          throw new DslError(j + 2, "a digit after '.'", f === undefined ? 'end of input' : `'${f}'`);
        }
        j++;
        while (isDigit(chars[j])) j++;
      }
      if (isIdChar(chars[j]) || chars[j] === '.') {
        let k = j;
        while (isIdChar(chars[k]) || chars[k] === '.') k++;
        throw new DslError(col, 'a number (-?digits[.digits])', `'${chars.slice(i, k).join('')}'`);
      }
      const raw = chars.slice(i, j).join('');
      const canon = canonicalNumber(raw);
      if (canon === null) throw new DslError(col, 'a number within the range of a double', `'${raw}'`);
      out.push({ t: 'num', v: canon, col });
      i = j;
    } else if (isIdStart(c)) {
      let j = i + 1;
      while (isIdChar(chars[j])) j++;
      out.push({ t: 'ident', v: chars.slice(i, j).join(''), col });
      i = j;
    } else {
      const two = c + (chars[i + 1] ?? '');
      if (['==', '!=', '<>', '<=', '>='].includes(two)) {
        out.push({ t: 'punct', v: two, col });
        i += 2;
      } else if ('()=<>,'.includes(c)) {
        out.push({ t: 'punct', v: c, col });
        i++;
      } else {
        throw new DslError(col, 'a condition', `'${c}'`);
      }
    }
  }
  out.push({ t: 'end', col: chars.length + 1 });
  return out;
}

// --- parser ------------------------------------------------------------------------------

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.pos];
  }
  private kw(word: string, tok: Tok = this.peek()): boolean {
    return tok.t === 'ident' && tok.v.toLowerCase() === word;
  }
  private punct(p: string, tok: Tok = this.peek()): boolean {
    return tok.t === 'punct' && tok.v === p;
  }
  private fail(expected: string): never {
    const tok = this.peek();
    throw new DslError(tok.col, expected, describe(tok));
  }
  private expectPunct(p: string): void {
    if (!this.punct(p)) this.fail(`'${p}'`);
    this.pos++;
  }

  parse(): Rule {
    if (this.peek().t === 'end') return { kind: 'all' };
    const r = this.orExpr();
    if (this.peek().t !== 'end') this.fail(this.depth === 0 ? "'and', 'or' or end of input" : "')'");
    return r;
  }

  private orExpr(): Rule {
    const children = [this.andExpr()];
    while (this.kw('or')) {
      this.pos++;
      children.push(this.andExpr());
    }
    return children.length === 1 ? children[0] : { kind: 'or', children };
  }

  private andExpr(): Rule {
    const children = [this.unary()];
    while (this.kw('and')) {
      this.pos++;
      children.push(this.unary());
    }
    return children.length === 1 ? children[0] : { kind: 'and', children };
  }

  private nest<T>(f: () => T): T {
    if (++this.depth > MAX_NESTING) this.fail(`at most ${MAX_NESTING} levels of nesting`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private unary(): Rule {
    if (this.kw('not')) {
      this.pos++;
      return this.nest(() => ({ kind: 'not', child: this.unary() }) as Rule);
    }
    if (this.punct('(')) {
      this.pos++;
      return this.nest(() => {
        const r = this.orExpr();
        if (!this.punct(')')) this.fail("')'");
        this.pos++;
        return r;
      });
    }
    return this.term();
  }

  private literal(): Literal {
    const tok = this.peek();
    if (tok.t === 'str') {
      this.pos++;
      return str(tok.v);
    }
    if (tok.t === 'num') {
      this.pos++;
      return { kind: 'number', text: tok.v };
    }
    if (this.kw('true') || this.kw('false')) {
      this.pos++;
      return bool(this.kw('true', tok));
    }
    return this.fail('a literal (string, number, true or false)');
  }

  private ident(): string {
    const tok = this.peek();
    if (tok.t !== 'ident' || KEYWORDS.has(tok.v.toLowerCase())) this.fail('a tag name');
    this.pos++;
    return (tok as { v: string }).v;
  }

  private list(): Literal[] {
    this.expectPunct('(');
    const values = [this.literal()];
    while (this.punct(',')) {
      this.pos++;
      values.push(this.literal());
    }
    this.expectPunct(')');
    return values;
  }

  private term(): Rule {
    const tok = this.peek();
    if (tok.t !== 'ident') return this.fail('a condition');
    const word = tok.v.toLowerCase();
    if (word === 'has' || word === 'has_any' || word === 'has_all') {
      this.pos++;
      this.expectPunct('(');
      const field = this.ident();
      const values: Literal[] = [];
      if (!this.punct(',')) this.fail("','");
      while (this.punct(',')) {
        this.pos++;
        values.push(this.literal());
      }
      this.expectPunct(')');
      return { kind: 'has', field, mode: word === 'has_all' ? 'all' : 'any', values };
    }
    if (word === 'exists') {
      this.pos++;
      this.expectPunct('(');
      const field = this.ident();
      this.expectPunct(')');
      return { kind: 'exists', field };
    }
    if (KEYWORDS.has(word)) return this.fail('a condition');
    const field = this.ident();
    if (this.kw('between')) {
      this.pos++;
      const low = this.literal();
      if (!this.kw('and')) this.fail("'and'");
      this.pos++;
      const high = this.literal();
      return { kind: 'between', field, low, high };
    }
    if (this.kw('in')) {
      this.pos++;
      return { kind: 'in', field, values: this.list() };
    }
    if (this.kw('not')) {
      this.pos++;
      if (!this.kw('in')) this.fail("'in'");
      this.pos++;
      return { kind: 'not', child: { kind: 'in', field, values: this.list() } };
    }
    const op = this.peek();
    if (op.t === 'punct' && ['=', '==', '!=', '<>', '<', '<=', '>', '>='].includes(op.v)) {
      this.pos++;
      const sym = op.v === '==' ? '=' : op.v === '<>' ? '!=' : (op.v as CompareOp);
      return { kind: 'compare', field, op: sym, value: this.literal() };
    }
    return this.fail("an operator (=, !=, <, <=, >, >=, between, in, not in)");
  }
}

export function parseRule(text: string): Rule {
  return new Parser(lex(text)).parse();
}

// --- printer (ToDsl) ---------------------------------------------------------------------

const PREC_OR = 1;
const PREC_AND = 2;
const PREC_NOT = 3;

export function printLiteral(l: Literal): string {
  if (l.kind !== 'string') return l.text;
  const esc = l.text.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
  return `"${esc}"`;
}

function unwrap(r: Rule): Rule {
  while ((r.kind === 'and' || r.kind === 'or') && r.children.length === 1) r = r.children[0];
  return r;
}

function print(r: Rule, context: number): string {
  switch (r.kind) {
    case 'all':
      return '';
    case 'and':
    case 'or': {
      if (r.children.length === 1) return print(r.children[0], context);
      const prec = r.kind === 'and' ? PREC_AND : PREC_OR;
      const body = r.children.map((c) => print(c, prec)).join(` ${r.kind} `);
      return prec < context ? `(${body})` : body;
    }
    case 'not': {
      const inner = unwrap(r.child);
      if (inner.kind === 'in') return `${inner.field} not in (${inner.values.map(printLiteral).join(', ')})`;
      return `not ${print(r.child, PREC_NOT)}`;
    }
    case 'compare':
      return `${r.field} ${r.op} ${printLiteral(r.value)}`;
    case 'between':
      return `${r.field} between ${printLiteral(r.low)} and ${printLiteral(r.high)}`;
    case 'in':
      return `${r.field} in (${r.values.map(printLiteral).join(', ')})`;
    case 'has':
      return `${r.mode === 'all' ? 'has_all' : 'has'}(${r.field}${r.values.map((v) => ', ' + printLiteral(v)).join('')})`;
    case 'exists':
      return `exists(${r.field})`;
  }
}

export function printRule(r: Rule): string {
  return print(r, PREC_OR);
}

// The canonical text of a DSL string (throws DslError).
export function canonical(text: string): string {
  return printRule(parseRule(text));
}
