// The deterministic checks before review: reading a diff, finding secrets it adds (by file
// and line, never quoting them), and files outside the task's allowed paths.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { describeSecrets, findSecrets, outsideAllowedPaths, parseDiff } from '../../../activities/review/checks.js';
import { Redactor } from '../../../lib/storage/redactor.js';

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

  it('takes a line that adds "++ b/…" as an added line, not as a new name for the file', () => {
    const files = parseDiff('diff --git a/.github/ci.yml b/.github/ci.yml\nnew file mode 100644\n--- /dev/null\n+++ b/.github/ci.yml\n@@ -0,0 +1,2 @@\n+on: push\n+++ b/docs/readme.md\n');
    expect(files).toEqual([{ path: '.github/ci.yml', deleted: false, added: [{ line: 1, text: 'on: push' }, { line: 2, text: '++ b/docs/readme.md' }] }]);
  });

  it('reads the names git quotes (non-ASCII, quotes, backslashes, control characters) as the names they are', () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), 'errand-quoted-'));
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' });
    git('init', '-q');
    writeFileSync(path.join(repo, 'run.sh'), 'echo hi\n');
    git('add', '.');
    git('commit', '-qm', 'base');
    const names = ['été.yml', 'é x.yml', 'q"uote.yml', 'back\\slash.yml', 'tab\there', 'new\nline', 'plain name.txt', 'ü/ß.txt'];
    mkdirSync(path.join(repo, 'ü'));
    for (const name of names) writeFileSync(path.join(repo, name), 'on: push\n');
    writeFileSync(path.join(repo, 'ä.bin'), Buffer.from([0, 1, 2]));
    chmodSync(path.join(repo, 'run.sh'), 0o755);
    git('add', '.');
    git('commit', '-qm', 'change');
    // As git prints it by default (core.quotePath on), and with binary files and a mode-only change.
    const diff = git('diff', 'HEAD~1', 'HEAD');
    expect(diff).toContain('"b/\\303\\251t\\303\\251.yml"');
    const files = parseDiff(diff);
    expect(files.map((f) => f.path).sort()).toEqual([...names, 'ä.bin', 'run.sh'].sort());
    expect(files.find((f) => f.path === 'q"uote.yml')!.added).toEqual([{ line: 1, text: 'on: push' }]);
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
