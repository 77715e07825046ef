// What a task leaves in storage, served by the API: its test and setup logs, its diff, the agent's
// transcript and its live event stream. A task that does not exist is a 404 before any is read.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, NotFoundException, type OnModuleDestroy } from '@nestjs/common';
import { taskKeys } from '../../../lib/storage/keys.js';
import type { Storage } from '../../../lib/storage/storage.js';
import { readTranscript } from '../../../lib/transcripts/transcript.js';
import { STORAGE } from '../tokens.js';
import { streamTaskEvents } from './event-stream.js';
import { statusName, TaskGateway } from './task-gateway.js';
import type { LogName } from './task-request.js';

/** Why a log is missing, for a task that ended and for one still running. */
const NO_LOG: Record<LogName, string> = {
  setup: 'it ran no setup script (its repository has no .errand/setup.sh and the task gave no setupScript)',
  test: 'it ran no tests (no test command was given or found, or it ended before testing)',
};
const NO_LOG_YET: Record<LogName, string> = {
  setup: 'its setup has not finished, or it has no setup script',
  test: 'it has not run its tests yet',
};

@Injectable()
export class TaskArtifacts implements OnModuleDestroy {
  /** Ends open event streams on shutdown (before the HTTP server waits for them to close). */
  private readonly shutdown = new AbortController();

  constructor(
    @Inject(STORAGE) private readonly storage: Storage,
    @Inject(TaskGateway) private readonly gateway: TaskGateway,
  ) {}

  onModuleDestroy(): void {
    this.shutdown.abort();
  }

  async log(taskId: string, name: LogName): Promise<string> {
    const description = await this.gateway.describe(taskId);
    const log = await this.storage.blobs.get(taskKeys(taskId).log(name));
    if (log !== undefined) return log;
    if (description.status.name === 'RUNNING') throw new NotFoundException(`task ${taskId} has no ${name} log yet: ${NO_LOG_YET[name]}`);
    throw new NotFoundException(`task ${taskId} has no ${name} log: ${NO_LOG[name]}`);
  }

  /** The change the task published, as a unified diff (`git diff` of its base and its branch). */
  async diff(taskId: string): Promise<string> {
    const description = await this.gateway.describe(taskId);
    const diff = await this.storage.blobs.get(taskKeys(taskId).diff);
    if (diff !== undefined) return diff;
    throw new NotFoundException(`task ${taskId} has no diff${description.status.name === 'RUNNING' ? ' yet: it is written when the work is published' : ': it published no change'}`);
  }

  async transcript(taskId: string) {
    await this.gateway.describe(taskId);
    const messages = await readTranscript(this.storage.blobs, taskId);
    return { id: taskId, steps: messages.reduce((max, m) => Math.max(max, m.step), 0), messages };
  }

  /** Answers 404 before the stream starts; afterwards the stream itself reports the end. */
  async streamEvents(taskId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.gateway.describe(taskId);
    await streamTaskEvents(req, res, {
      logs: this.storage.logs,
      taskId,
      signal: this.shutdown.signal,
      status: async () => {
        const status = statusName(await this.gateway.describe(taskId));
        return { closed: status !== 'running', status };
      },
    });
  }
}
