// The host uid a sandboxed command ran as, from what it printed for `id -u; cat /proc/self/uid_map`:
// its uid, mapped out of its user namespace when it is in one.
export const PRINT_UID = 'id -u; cat /proc/self/uid_map';

export function hostUid(printed: string): number {
  const [uid, ...map] = printed.trim().split('\n');
  const u = Number(uid);
  for (const line of map) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (u >= inside! && u < inside! + count!) return outside! + (u - inside!);
  }
  throw new Error(`uid ${u} is not mapped out of its namespace: ${printed}`);
}
