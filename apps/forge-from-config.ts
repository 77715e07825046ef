// The forge the configuration names, for the worker (activities) and the API (webhooks).
import type { Forge } from '../activities/forge/forge.js';
import { GitHubForge } from '../activities/forge/github.js';
import { LocalForge } from '../activities/forge/local.js';
import { stateDirs, type Config } from './config.js';

export function forgeFromConfig(config: Config): Forge {
  return config.forge.kind === 'github' ? new GitHubForge(config.forge.github) : new LocalForge(stateDirs(config).forge);
}
