export { exactCacheKey, finalUserText, semanticPartition, stableStringify } from './cache-key.js';
export { type CacheOptions, type CachePlugin, type CacheStatus, createCachePlugin, ProviderEmbedder, type SemanticOptions } from './cache-plugin.js';
export { Coalescer } from './coalescer.js';
export { type ExactCacheStore, MemoryExactStore, type MemoryExactStoreOptions, RedisExactStore, type RedisExactStoreOptions } from './exact-store.js';
export { dot, type Embedder, LocalEmbedder, normalize, tokenize } from './local-embedder.js';
export { RedisSemanticSharing, SemanticCache, type SemanticEntry, type SemanticSharing } from './semantic-cache.js';
export { type SearchHit, VectorIndex, type VectorIndexOptions } from './vector-index.js';
