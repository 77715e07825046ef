// Tests that need a real part of the machine (bubblewrap, say) never skip silently: in CI
// (CI=true) a missing part fails the run; locally the tests skip with a message that says what
// to install.
import { describe, it } from '@jest/globals';

export function describeWithPart(part: { name: string; missing?: string; install: string }, title: string, body: () => void): void {
  if (!part.missing) return describe(title, body);
  const message = `${title}: needs ${part.name}, which is missing here (${part.missing}); ${part.install}`;
  if (process.env.CI) {
    describe(title, () => {
      it(`needs ${part.name}`, () => {
        throw new Error(message);
      });
    });
    return;
  }
  console.warn(`SKIPPED ${message}`);
  describe.skip(title, body);
}
