// The mounts this process sees (/proc/self/mountinfo), for what the local sandbox mounts or
// finds mounted: the CPU cgroup file systems, and the copy-on-write environments under sandboxes.
import { readFile } from 'node:fs/promises';

export interface Mount {
  root: string;
  point: string;
  type: string;
  /** The file system's own options (cgroup's controllers, overlay's lowerdir and upperdir). */
  options: string[];
}

export async function readMounts(): Promise<Mount[]> {
  return parseMounts(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** /proc/self/mountinfo: "id parent dev root point options [tags] - type source superoptions". */
export function parseMounts(text: string): Mount[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const fields = line.split(' ');
      const dash = fields.indexOf('-');
      return {
        root: unescape(fields[3]!),
        point: unescape(fields[4]!),
        type: fields[dash + 1]!,
        options: unescape(fields[dash + 3] ?? '').split(','),
      };
    });
}

/** mountinfo writes space, tab, newline and backslash in paths as octal escapes. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
