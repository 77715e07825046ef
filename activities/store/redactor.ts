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

export class Redactor {
  private readonly secrets: string[];

  /** Values shorter than 6 characters are ignored: redacting them would mangle ordinary text. */
  constructor(secrets: (string | undefined)[]) {
    this.secrets = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6))].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    for (const { pattern } of PATTERNS) out = out.replace(pattern, REDACTED);
    return out;
  }

  /** What kinds of secret `text` holds (never the secrets themselves). */
  kindsIn(text: string): string[] {
    const kinds = new Set<string>();
    if (this.secrets.some((s) => text.includes(s))) kinds.add('configured secret');
    for (const { kind, pattern } of PATTERNS) {
      pattern.lastIndex = 0;
      if (pattern.test(text)) kinds.add(kind);
    }
    return [...kinds];
  }
}
