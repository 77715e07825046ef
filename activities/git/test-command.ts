// Finds how a repository runs its tests, from the files at its root. Pure, so it is unit-tested.
export function detectTestCommand(rootFiles: string[], packageJson?: string, makefile?: string): string | undefined {
  const has = (f: string) => rootFiles.includes(f);
  if (packageJson) {
    try {
      const test = (JSON.parse(packageJson) as { scripts?: Record<string, string> }).scripts?.test;
      if (test && !test.includes('no test specified')) return 'npm test';
    } catch {
      // an unreadable package.json has no usable test script
    }
  }
  if (makefile && /^test\s*:/m.test(makefile)) return 'make test';
  if (has('go.mod')) return 'go test ./...';
  if (has('Cargo.toml')) return 'cargo test';
  if (['pytest.ini', 'pyproject.toml', 'setup.cfg', 'tox.ini', 'conftest.py'].some(has)) return 'python3 -m pytest';
  return undefined;
}
