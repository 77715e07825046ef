// The pure pieces: output truncation, test-command detection, and how model errors map to
// retryable or not.
import { describe, expect, it } from '@jest/globals';
import { ApplicationFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { ErrandFailure } from '../../lib/failures/errand-failure.js';
import { toActivityFailure } from '../../activities/failures.js';
import { Redactor } from '../../lib/storage/redactor.js';
import { classifyModelError } from '../../activities/agent/model-client.js';
import { detectTestCommand } from '../../activities/git/test-command.js';
import { HeadTailBuffer, truncateMiddle } from '../../activities/sandbox/sandboxd/truncate.js';

describe('truncateMiddle', () => {
  it('leaves short text alone and cuts the middle of long text', () => {
    expect(truncateMiddle('short', 100)).toEqual({ text: 'short', truncated: false, cutBytes: 0 });
    const t = truncateMiddle('a'.repeat(50) + 'b'.repeat(50), 20);
    expect(t.text).toBe(`${'a'.repeat(10)}\n[... 80 bytes cut ...]\n${'b'.repeat(10)}`);
  });

  it('streams the same result in chunks', () => {
    const buf = new HeadTailBuffer(20);
    for (const c of ['a'.repeat(30), 'x'.repeat(40), 'b'.repeat(30)]) buf.push(Buffer.from(c));
    expect(buf.result()).toEqual({ text: `${'a'.repeat(10)}\n[... 80 bytes cut ...]\n${'b'.repeat(10)}`, truncated: true, cutBytes: 80 });
  });
});

describe('detectTestCommand', () => {
  it.each([
    [['package.json'], JSON.stringify({ scripts: { test: 'jest' } }), undefined, 'npm test'],
    [['package.json'], JSON.stringify({ scripts: { test: 'echo "Error: no test specified" && exit 1' } }), undefined, undefined],
    [['Makefile', 'go.mod'], undefined, 'build:\n\tgo build\ntest:\n\tgo test ./...\n', 'make test'],
    [['go.mod'], undefined, undefined, 'go test ./...'],
    [['Cargo.toml'], undefined, undefined, 'cargo test'],
    [['pyproject.toml'], undefined, undefined, 'python3 -m pytest'],
    [['README.md'], undefined, undefined, undefined],
  ])('%j -> %s', (files, pkg, makefile, expected) => {
    expect(detectTestCommand(files, pkg, makefile)).toBe(expected);
  });
});

describe('classifyModelError', () => {
  const settings = { baseUrl: 'http://model/v1', model: 'm' };
  const apiError = (status: number, headers: Record<string, string> = {}) =>
    OpenAI.APIError.generate(status, { error: { message: 'boom' } }, 'boom', new Headers(headers));

  it.each([400, 401, 403, 404, 422])('%i is not retryable and says what to check', (status) => {
    const f = classifyModelError(apiError(status), settings) as ErrandFailure;
    expect(f).toBeInstanceOf(ErrandFailure);
    expect(f.retryable).toBe(false);
    expect(f.type).toBe('ModelRequestRejected');
    expect(f.message).toContain(`(${status})`);
  });

  it.each([429, 500, 502, 503])('%i is retryable', (status) => {
    const f = classifyModelError(apiError(status), settings) as ErrandFailure;
    expect(f.retryable).toBe(true);
    expect(f.type).toBe('ModelUnavailable');
  });

  it('honours Retry-After on 429', () => {
    const f = classifyModelError(apiError(429, { 'retry-after': '7' }), settings) as ErrandFailure;
    expect(f.retryAfterMs).toBe(7000);
  });

  it('waits no longer than its cap however long Retry-After asks, and says so', () => {
    const f = classifyModelError(apiError(429, { 'retry-after': '3600' }), { ...settings, maxRetryAfterMs: 30_000 }) as ErrandFailure;
    expect(f.retryAfterMs).toBe(30_000);
    expect(f.message).toContain('it asked to wait 3600 s, Errand waits at most 30 s (ERRAND_MODEL_MAX_RETRY_AFTER_SECONDS)');
    const uncapped = classifyModelError(apiError(429, { 'retry-after': '3600' }), settings) as ErrandFailure;
    expect(uncapped.retryAfterMs).toBe(120_000); // the default cap
  });
});

describe('toActivityFailure', () => {
  it("turns a provider's typed failure into Temporal's, with its retry advice, redacted", () => {
    const redactor = new Redactor(['hunter2-secret']);
    const permanent = toActivityFailure(ErrandFailure.permanent('SetupFailed', 'setup printed hunter2-secret'), redactor) as ApplicationFailure;
    expect(permanent).toBeInstanceOf(ApplicationFailure);
    expect(permanent).toMatchObject({ type: 'SetupFailed', nonRetryable: true, message: 'setup printed [REDACTED]' });
    const transient = toActivityFailure(ErrandFailure.transient('ModelUnavailable', '429', 5_000), redactor) as ApplicationFailure;
    expect(transient).toMatchObject({ type: 'ModelUnavailable', nonRetryable: false, nextRetryDelay: 5_000 });
    const plain = toActivityFailure(new Error('clone failed: hunter2-secret'), redactor) as Error;
    expect(plain.message).toBe('clone failed: [REDACTED]');
  });
});
