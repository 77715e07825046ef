// A repository's `.errand/sandbox.json`, read at its base: the image its toolchain needs, and the
// files its environment is made from (when lockfiles are not all, or not the right ones).
//   {"image": "ghcr.io/acme/sandbox-node22:1", "environment": {"inputs": ["package-lock.json", "tools/*.lock"]}}
import { z } from 'zod';
import { IMAGE_REFERENCE } from '../../workflows/contracts/task.js';

export const SANDBOX_CONFIG_FILE = '.errand/sandbox.json';

export const SandboxConfig = z.strictObject({
  image: z.string().regex(IMAGE_REFERENCE, 'must be an image reference').optional(),
  environment: z
    .strictObject({
      /** Glob patterns of the files the setup installs from (replacing the lockfiles looked for by default). */
      inputs: z.array(z.string().min(1).max(200).regex(/^[^\p{Cc}]+$/u, 'a glob pattern, without control characters')).min(1).max(50).optional(),
      /** `false`: never keep or reuse this repository's environment. */
      cache: z.boolean().optional(),
    })
    .optional(),
});
export type SandboxConfig = z.output<typeof SandboxConfig>;

/** The file's settings, or what is wrong with it in words. */
export function parseSandboxConfig(raw: string): SandboxConfig | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { error: `${SANDBOX_CONFIG_FILE} is not JSON; it should read {"image": "<image reference>"}` };
  }
  const config = SandboxConfig.safeParse(parsed);
  return config.success ? config.data : { error: `${SANDBOX_CONFIG_FILE} is not valid: ${z.prettifyError(config.error)}` };
}
