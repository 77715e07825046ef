export default async function globalTeardown() {
  await globalThis.__temporal?.stop();
  globalThis.__tempRoot?.remove();
}
