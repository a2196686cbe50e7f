import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { LevelDatastore } from 'datastore-level'
import { BatchingLevelDatastore } from './batching-datastore.js'
import { DATASTORE_DIR } from './constants.js'

/**
 * Opens the node's on-disk datastore. libp2p keeps the peer store and DHT records in it; the roles
 * keep jobs, runs, the replay cache and osiris data under their own key prefixes. Writes of one
 * event-loop turn go to LevelDB as one batch (batching-datastore.ts).
 */
export async function openDatastore(dataDir: string): Promise<LevelDatastore> {
  const path = join(dataDir, DATASTORE_DIR)
  await mkdir(path, { recursive: true, mode: 0o700 })
  const datastore = new BatchingLevelDatastore(path)
  await datastore.open()
  return datastore
}
