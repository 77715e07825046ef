// Redaction of secrets before anything is stored, logged or returned into history: the
// configured values (model key, forge token, ERRAND_REDACT) and well-known token shapes. The
// same knowledge finds secrets in a diff before it is pushed.
const PATTERNS: { kind: string; pattern: RegExp }[] = [
  { kind: 'private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g },
  { kind: 'private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/g }, // a key split over diff lines
  { kind: 'OpenAI-style API key', pattern: /\bsk-[A-Za-z0-9_-]{16,}/g },
  { kind: 'GitHub token', pattern: /\bgh[pousr]_[A-Za-z0-9]{20,}/g },
  { kind: 'GitHub token', pattern: /\bgithub_pat_[A-Za-z0-9_]{20,}/g },
  { kind: 'AWS access key id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g },
  { kind: 'AWS secret access key', pattern: /\baws_secret_access_key\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}\b/gi },
  { kind: 'Slack token', pattern: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g },
];

export const REDACTED = '[REDACTED]';

/**
 * What may stand between two letters of a secret and still spell it: blanks and line breaks,
 * invisible characters (zero-width spaces and joiners, soft hyphens, direction marks), a line
 * continuation (a backslash before a line break), and those written as JSON escapes them (a
 * line break stored in a JSON string is `\n`).
 */
// A JSON escape's backslashes are bounded (JSON in JSON doubles them): an unbounded `\\+` made a
// long run of backslashes quadratic to scan (40,000 took 1.7 s), output any command can print.
const BETWEEN_ONE = String.raw`(?:[\s\p{Default_Ignorable_Code_Point}]|\\{1,8}(?:[nrtbf]|u00[01][0-9a-fA-F]|\r?\n))`;
const BETWEEN = `${BETWEEN_ONE}*`;
const BETWEEN_ALL = new RegExp(BETWEEN_ONE, 'gu');

export class Redactor {
  /** Every configured secret in every form it is looked for, as one pattern (none: nothing configured). */
  private readonly configured: RegExp | undefined;
  /**
   * A cheap first look, for text that holds none of them (nearly all text): each form with
   * nothing between its letters, looked for in the text with all of BETWEEN taken out. A form
   * that holds a character of BETWEEN itself has no such needle and is always looked for in full.
   */
  private readonly needles: { exact: string[]; lower: string[] } | undefined;

  /** Values shorter than 6 characters are ignored: redacting them would mangle ordinary text. */
  constructor(secrets: (string | undefined)[]) {
    const values = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6))];
    const forms = [...new Map(values.flatMap(encodings).map((f) => [f.pattern.join(''), f])).values()].sort((a, b) => b.pattern.length - a.pattern.length);
    this.configured = forms.length ? new RegExp(forms.map((f) => f.pattern.join(BETWEEN)).join('|'), 'gu') : undefined;
    const plain = forms.every((f) => !new RegExp(BETWEEN_ONE, 'u').test(f.text));
    this.needles = plain ? { exact: forms.filter((f) => !f.anyCase).map((f) => f.text), lower: forms.filter((f) => f.anyCase).map((f) => f.text.toLowerCase()) } : undefined;
  }

  redact(text: string): string {
    let out = this.holdsConfigured(text) ? text.replace(this.configured!, REDACTED) : text;
    for (const { pattern } of PATTERNS) out = out.replace(pattern, REDACTED);
    return out;
  }

  /** What kinds of secret `text` holds (never the secrets themselves). */
  kindsIn(text: string): string[] {
    const kinds = new Set<string>();
    if (this.holdsConfigured(text)) {
      this.configured!.lastIndex = 0;
      if (this.configured!.test(text)) kinds.add('configured secret');
    }
    for (const { kind, pattern } of PATTERNS) {
      pattern.lastIndex = 0;
      if (pattern.test(text)) kinds.add(kind);
    }
    return [...kinds];
  }

  /** Whether `text` may hold a configured secret: false only when it certainly does not. */
  private holdsConfigured(text: string): boolean {
    if (!this.configured) return false;
    if (!this.needles) return true;
    const bare = text.replace(BETWEEN_ALL, '');
    if (this.needles.exact.some((n) => bare.includes(n))) return true;
    if (!this.needles.lower.length) return false;
    const lower = bare.toLowerCase();
    return this.needles.lower.some((n) => lower.includes(n));
  }
}

/** One form of a secret: its text, and its letters as patterns (`anyCase`: hex digits in either case). */
interface Form {
  text: string;
  pattern: string[];
  anyCase: boolean;
}

/**
 * The forms a command turns a secret into with no effort (`rev`, `base64`, `xxd -p`, a URL, a
 * JSON string).
 */
function encodings(secret: string): Form[] {
  const bytes = Buffer.from(secret, 'utf8');
  const exactly = (text: string): Form => ({ text, pattern: [...text].map((c) => c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')), anyCase: false });
  const anyCase = (text: string): Form => ({ text, pattern: [...text].map((c) => (/[a-f]/.test(c) ? `[${c}${c.toUpperCase()}]` : c)), anyCase: true });
  return [
    exactly(secret),
    exactly([...secret].reverse().join('')),
    exactly(JSON.stringify(secret).slice(1, -1)),
    exactly(encodeURIComponent(secret)),
    anyCase([...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    anyCase(bytes.toString('hex')),
    ...[0, 1, 2].flatMap((offset) => {
      // Base64 of the secret after `offset` other bytes: the letters that depend on its bytes alone.
      const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
      const core = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
      return [exactly(core), exactly(core.replace(/\+/g, '-').replace(/\//g, '_'))];
    }),
  ];
}
