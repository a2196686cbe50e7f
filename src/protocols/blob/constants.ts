/** Defaults of the blob store and the `/horus/blob/1.0.0` protocol. */

/** The protocol id blobs are fetched over. */
export const BLOB_PROTOCOL = '/horus/blob/1.0.0'

/**
 * Largest blob stored or fetched; a peer announcing more is refused before any byte is read.
 * @default 1 GiB
 */
export const DEFAULT_MAX_BLOB_BYTES = 1024 * 1024 * 1024

/** Bytes per data frame a server sends (and the most a client accepts in one frame). @default 64 KiB */
export const BLOB_CHUNK_BYTES = 64 * 1024

/**
 * Bytes one request asks for: the most either side buffers for a transfer (the fetcher asks for
 * the next window once the last one is on disk). @default 4 MiB
 */
export const BLOB_WINDOW_BYTES = 4 * 1024 * 1024

/** Largest request or header frame. @default 4 KiB */
export const MAX_CONTROL_FRAME_BYTES = 4 * 1024

/** Transfers a node serves at once; more are answered `busy`. @default 8 */
export const DEFAULT_MAX_SERVING = 8

/** Transfers a node fetches at once; more wait their turn. @default 4 */
export const DEFAULT_MAX_FETCHING = 4

/** A transfer that makes no progress for this long is abandoned (and resumed later). @default 30_000 */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000

/** How often a node deletes the blobs nobody holds (`BlobStore.gc`); 0 never. @default 15 min */
export const DEFAULT_GC_INTERVAL_MS = 15 * 60_000

/** Sources a reference lists at most. */
export const MAX_BLOB_SOURCES = 8

/** Directory of the blob store inside a node's data dir. */
export const BLOB_DIR = 'blobs'
