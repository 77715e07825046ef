// Errand's search attributes (repository, phase, requester) on the namespace it runs in: task
// lists and their filters, Temporal UI's too, and every task's start need them. The dev server
// is started with them; on a cluster, the first worker or API to start registers what the
// namespace lacks through the operator API, and when it may not, stops saying exactly what is
// missing, which permission it lacks and the command that adds them.
import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError, type Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../workflows/contracts/search-attributes.js';
import type { Logger } from './logger.js';

/** gRPC status codes the operator API answers with here. */
const ALREADY_EXISTS = 6;
const PERMISSION_DENIED = 7;
const UNIMPLEMENTED = 12;
const UNAUTHENTICATED = 16;

/** temporal.api.enums.v1.IndexedValueType, as the operator API numbers each type. */
const INDEXED: Record<SearchAttributeType, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };

type Key = (typeof SEARCH_ATTRIBUTES)[number];

/** How long an added attribute may take to show (the server's namespace cache refreshes by itself). */
const VISIBLE_WITHIN_MS = 30_000;

export class SearchAttributesError extends Error {}

/** Registers whichever of `wanted` the namespace lacks; throws a SearchAttributesError saying what to do when it cannot. */
export async function ensureSearchAttributes(connection: Connection, namespace: string, log: Logger, wanted: readonly Key[] = SEARCH_ATTRIBUTES): Promise<void> {
  const registered = async () => (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  const have = await registered();
  const clash = wanted.filter((key) => key.name in have && have[key.name] !== INDEXED[key.type]);
  if (clash.length) {
    const which = clash.map((key) => `${key.name} is ${typeName(have[key.name])}, Errand needs ${typeName(INDEXED[key.type])}`);
    throw new SearchAttributesError(`namespace ${namespace} has search attributes of the wrong type (${which.join('; ')}); remove them, or run Errand on another namespace (ERRAND_TEMPORAL_NAMESPACE)`);
  }
  const missing = wanted.filter((key) => !(key.name in have));
  if (!missing.length) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED[key.type]])) });
  } catch (err) {
    // Another worker or API replica starting at the same moment added them first.
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw refusal(err, namespace, missing);
  }
  for (const deadline = Date.now() + VISIBLE_WITHIN_MS; ; await sleep(500)) {
    const now = await registered();
    if (missing.every((key) => key.name in now)) break;
    if (Date.now() > deadline) throw new SearchAttributesError(`namespace ${namespace} accepted the search attributes ${names(missing)} but does not list them after ${VISIBLE_WITHIN_MS / 1000} s`);
  }
  log.info({ namespace, added: missing.map((key) => key.name) }, 'registered search attributes on the namespace');
}

/** Why adding them failed, as something an operator can act on. */
function refusal(err: unknown, namespace: string, missing: Key[]): Error {
  if (!isGrpcServiceError(err) || ![PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED].includes(err.code)) return err as Error;
  const why =
    err.code === UNIMPLEMENTED
      ? 'this Temporal does not offer the operator API (Temporal Cloud adds them with tcld or the cloud ops API)'
      : // The server's own words ("Request unauthorized."), quoted so they end no sentence of ours.
        `Errand's credentials lack the permission to add them (the operator API's AddSearchAttributes, which a namespace admin has; Temporal answered "${err.details.replace(/\.$/, '')}")`;
  // The CLI takes one type a command, and many names.
  const types = [...new Set(missing.map((key) => key.type))];
  const cli = types.map((type) => `temporal operator search-attribute create --namespace ${namespace} ${missing.filter((key) => key.type === type).map((key) => `--name ${key.name}`).join(' ')} --type ${cliType(type)}`).join('\n  ');
  const cloud = `tcld namespace search-attributes add --namespace ${namespace} ${missing.map((key) => `--search-attribute "${key.name}=${cliType(key.type)}"`).join(' ')}`;
  return new SearchAttributesError(`namespace ${namespace} lacks Errand's search attributes ${names(missing)}, and ${why}. Have them added, then start Errand again:\n  ${cli}\n  (Temporal Cloud: ${cloud})`);
}

const names = (keys: Key[]) => keys.map((key) => key.name).join(', ');

/** `KEYWORD` as the CLI writes it: `Keyword`; `KEYWORD_LIST`: `KeywordList`. */
const cliType = (type: SearchAttributeType) =>
  type
    .toLowerCase()
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

function typeName(indexed: number | null | undefined): string {
  const type = (Object.keys(INDEXED) as SearchAttributeType[]).find((t) => INDEXED[t] === indexed);
  return type ? cliType(type) : `type ${indexed}`;
}
