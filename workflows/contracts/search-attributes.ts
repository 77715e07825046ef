// The search attributes Errand sets on a task's workflow, so the same filters work in the API
// (GET /tasks?repo=&status=) and in Temporal UI.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ErrandRepo = defineSearchAttributeKey('ErrandRepo', SearchAttributeType.KEYWORD);
export const ErrandPhase = defineSearchAttributeKey('ErrandPhase', SearchAttributeType.KEYWORD);
export const ErrandRequester = defineSearchAttributeKey('ErrandRequester', SearchAttributeType.KEYWORD);

/** Registered on the Temporal namespace at start-up (`temporal server start-dev --search-attribute`). */
export const SEARCH_ATTRIBUTES = [ErrandRepo, ErrandPhase, ErrandRequester];
