// The deterministic checks before review: reading a diff, finding secrets it adds (by file
// and line, never quoting them), and files outside the task's allowed paths.
import { describe, expect, it } from '@jest/globals';
import { describeSecrets, findSecrets, outsideAllowedPaths, parseDiff } from '../../../activities/review/checks.js';
import { Redactor } from '../../../activities/store/redactor.js';

const DIFF = `diff --git a/src/app.js b/src/app.js
index 1111111..2222222 100644
--- a/src/app.js
+++ b/src/app.js
@@ -1,3 +1,4 @@
 const a = 1;
-const b = 2;
+const b = 3;
+const key = 'AKIAIOSFODNN7EXAMPLE';
 module.exports = { a, b };
diff --git a/config/prod.env b/config/prod.env
new file mode 100644
--- /dev/null
+++ b/config/prod.env
@@ -0,0 +1,2 @@
+DB_PASSWORD=correct-horse-battery
+GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
`;

describe('parseDiff', () => {
  it('lists the files and the lines each adds, with new-file line numbers', () => {
    const files = parseDiff(DIFF);
    expect(files.map((f) => [f.path, f.deleted])).toEqual([['src/app.js', false], ['config/prod.env', false], ['old.txt', true]]);
    expect(files[0]!.added).toEqual([{ line: 2, text: 'const b = 3;' }, { line: 3, text: "const key = 'AKIAIOSFODNN7EXAMPLE';" }]);
    expect(parseDiff('')).toEqual([]);
  });
});

describe('findSecrets', () => {
  it('finds token shapes and configured values by file and line, and describes them without quoting them', () => {
    const findings = findSecrets(DIFF, new Redactor(['correct-horse-battery']));
    expect(findings).toEqual([
      { file: 'src/app.js', line: 3, kind: 'AWS access key id' },
      { file: 'config/prod.env', line: 1, kind: 'configured secret' },
      { file: 'config/prod.env', line: 2, kind: 'GitHub token' },
    ]);
    const described = describeSecrets(findings);
    expect(described).toBe('AWS access key id at src/app.js:3, configured secret at config/prod.env:1, GitHub token at config/prod.env:2');
    expect(described).not.toContain('AKIA');
  });

  it('ignores secrets the diff removes', () => {
    expect(findSecrets("diff --git a/k b/k\n--- a/k\n+++ b/k\n@@ -1 +1 @@\n-AKIAIOSFODNN7EXAMPLE\n+rotated\n", new Redactor([]))).toEqual([]);
  });
});

describe('outsideAllowedPaths', () => {
  it('flags files no allowed glob matches, and nothing without globs', () => {
    const files = parseDiff(DIFF);
    expect(outsideAllowedPaths(files, ['src/**', 'old.txt'])).toEqual(['config/prod.env']);
    expect(outsideAllowedPaths(files, undefined)).toEqual([]);
  });
});
