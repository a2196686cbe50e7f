/**
 * Blobs: values too large to travel inline (step outputs over 256 KiB), stored by the SHA-256 of
 * their canonical JSON on the node that produced them and fetched by whoever needs them over
 * `/horus/blob/1.0.0` — streamed, resumable, verified against the digest, size-limited.
 */

export {
  BlobService,
  type BlobServiceComponents,
  type BlobServiceInit,
  type BlobStats,
  type FetchOptions,
} from './blob-service.js'
export { BlobStore, type BlobStoreInit, type PartialWriter, type StoredBlob } from './blob-store.js'
export {
  BLOB_CHUNK_BYTES,
  BLOB_DIR,
  BLOB_PROTOCOL,
  DEFAULT_MAX_BLOB_BYTES,
  DEFAULT_MAX_FETCHING,
  DEFAULT_MAX_SERVING,
  DEFAULT_STALL_TIMEOUT_MS,
  MAX_BLOB_SOURCES,
} from './constants.js'
export {
  BlobAccessDeniedError,
  BlobDigestMismatchError,
  BlobNotFoundError,
  BlobProtocolError,
  BlobServerBusyError,
  BlobTooLargeError,
  BlobUnavailableError,
} from './errors.js'
export {
  type BlobRef,
  blobRef,
  containsBlobRef,
  DIGEST_PATTERN,
  isBlobRef,
  isDigest,
  withSources,
} from './ref.js'
