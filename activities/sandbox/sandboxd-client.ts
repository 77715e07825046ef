// The client side of sandboxd's protocol: typed calls with the sandbox token, an abort
// signal tied to the activity, and a SandboxGone failure when sandboxd cannot be reached.
import type {
  ExecRequest,
  ExecResponse,
  ListRequest,
  ListResponse,
  ReadFileRequest,
  ReadFileResponse,
  SandboxdError,
  SearchRequest,
  SearchResponse,
  WriteFileRequest,
  WriteFileResponse,
} from './sandboxd/protocol.js';
import { sandboxGone, type SandboxEndpoint } from './provider.js';

export class SandboxdRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: SandboxdError['code'],
    message: string,
  ) {
    super(message);
  }
}

export class SandboxdClient {
  constructor(
    private readonly sandboxId: string,
    private endpoint: SandboxEndpoint,
    private readonly signal?: AbortSignal,
    /** A fresh endpoint, for when a kept one is refused or answered by another sandbox (it moved); once. */
    private readonly lookUpAgain?: () => Promise<SandboxEndpoint>,
  ) {}

  exec(req: ExecRequest): Promise<ExecResponse> {
    return this.call('/exec', req);
  }

  readFile(req: ReadFileRequest): Promise<ReadFileResponse> {
    return this.call('/files/read', req);
  }

  writeFile(req: WriteFileRequest): Promise<WriteFileResponse> {
    return this.call('/files/write', req);
  }

  list(req: ListRequest): Promise<ListResponse> {
    return this.call('/files/list', req);
  }

  search(req: SearchRequest): Promise<SearchResponse> {
    return this.call('/search', req);
  }

  private async call<T>(route: string, body: unknown, again = this.lookUpAgain): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint.url}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.endpoint.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: this.signal,
      });
    } catch (err) {
      if (this.signal?.aborted) throw err;
      // Refused at connect: nothing was sent, so asking again where the sandbox is now is safe.
      if (again && (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') {
        this.endpoint = await again();
        return this.call(route, body, undefined);
      }
      throw sandboxGone(this.sandboxId, `sandboxd at ${this.endpoint.url} did not answer (${(err as Error).message})`);
    }
    // Another sandbox now answers at this address (a pod's IP reused): ask where this one is.
    if (res.status === 401 && again) {
      this.endpoint = await again();
      return this.call(route, body, undefined);
    }
    const payload = (await res.json()) as T | SandboxdError;
    if (!res.ok) {
      const e = payload as SandboxdError;
      throw new SandboxdRequestError(res.status, e.code, e.message);
    }
    return payload as T;
  }
}
