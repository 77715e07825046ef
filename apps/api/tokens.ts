// Injection tokens: explicit, because Errand runs TypeScript without emitted decorator metadata.
export const CONFIG = Symbol('CONFIG');
export const TEMPORAL_CLIENT = Symbol('TEMPORAL_CLIENT');
export const LOGGER = Symbol('LOGGER');
export const STORAGE = Symbol('STORAGE');
export const FORGE = Symbol('FORGE');
export const OPENAPI = Symbol('OPENAPI');
export const METRICS = Symbol('METRICS');
export const AUDIT = Symbol('AUDIT');
