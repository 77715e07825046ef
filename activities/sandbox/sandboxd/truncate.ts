// Keeps the head and the tail of long output, with a note of how much was cut: the start
// says what ran, the end says how it ended, and the middle is rarely worth history space.
export interface Truncated {
  text: string;
  truncated: boolean;
  cutBytes: number;
}

export function truncateMiddle(text: string, maxBytes: number): Truncated {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return { text, truncated: false, cutBytes: 0 };
  const half = Math.floor(maxBytes / 2);
  const cutBytes = buf.length - 2 * half;
  const head = buf.subarray(0, half).toString('utf8');
  const tail = buf.subarray(buf.length - half).toString('utf8');
  return { text: `${head}\n[... ${cutBytes} bytes cut ...]\n${tail}`, truncated: true, cutBytes };
}

/** Collects a stream's output keeping at most `maxBytes`: the first half and a rolling last half. */
export class HeadTailBuffer {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const half = Math.floor(this.maxBytes / 2);
    if (this.headBytes < half) {
      const take = chunk.subarray(0, half - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    const joined = Buffer.concat([this.tail, chunk]);
    this.tail = joined.subarray(Math.max(0, joined.length - half));
  }

  result(): Truncated {
    const head = Buffer.concat(this.head);
    const cutBytes = this.total - head.length - this.tail.length;
    if (cutBytes <= 0) return { text: Buffer.concat([head, this.tail]).toString('utf8'), truncated: false, cutBytes: 0 };
    return {
      text: `${head.toString('utf8')}\n[... ${cutBytes} bytes cut ...]\n${this.tail.toString('utf8')}`,
      truncated: true,
      cutBytes,
    };
  }
}
