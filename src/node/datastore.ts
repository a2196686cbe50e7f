import { cp, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '@libp2p/interface'
import { ClassicLevel } from 'classic-level'
import type { LevelDatastore } from 'datastore-level'
import { BatchingLevelDatastore } from './batching-datastore.js'
import { DATASTORE_DIR } from './constants.js'

/** What opening the datastore had to do about a corrupted one; absent when it opened as it was. */
export interface DatastoreRecovery {
  /**
   * `repaired`: LevelDB's repair made it readable (records in damaged blocks are lost);
   * `replaced`: even the repaired store did not open, the node started on an empty one.
   */
  action: 'repaired' | 'replaced'
  /** The corruption LevelDB reported. */
  cause: string
  /** Where the corrupted store was copied, as found, before anything touched it. */
  quarantinedAt: string
}

export interface OpenedDatastore {
  datastore: LevelDatastore
  recovery: DatastoreRecovery | undefined
}

/**
 * Opens the node's on-disk datastore. libp2p keeps DHT records in it (its peer store is in memory:
 * libp2p-datastore.ts); the node keeps its known peers, and the roles
 * keep jobs, runs, the replay cache and osiris data under their own key prefixes. Writes of one
 * event-loop turn go to LevelDB as one batch (batching-datastore.ts).
 *
 * A store LevelDB reports corrupted (a damaged log, table or manifest: a disk fault, a crash
 * during a write) never stops the node: it is first copied aside as found (quarantined, for
 * inspection; never deleted by Horus), then repaired in place with LevelDB's own repair, which
 * drops what it cannot read; should even that not open, the node starts on an empty store.
 * Either way the error is logged and `node.health` says so (`datastoreCheck`): what was lost comes
 * back only from peers (a coordinator's runs) or not at all (a supervisor's queue, a runner's
 * results).
 */
export async function openDatastore(dataDir: string, log?: Logger): Promise<OpenedDatastore> {
  const path = join(dataDir, DATASTORE_DIR)
  await mkdir(path, { recursive: true, mode: 0o700 })
  const first = await tryOpen(path)
  if (first.datastore !== undefined) return { datastore: first.datastore, recovery: undefined }
  if (!isCorruption(first.error)) throw first.error
  const cause = describe(first.error)
  const quarantinedAt = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
  await cp(path, quarantinedAt, { recursive: true })
  log?.error(
    'datastore %s is corrupted (%s): copied as found to %s, repairing it in place; records in damaged blocks are lost',
    path,
    cause,
    quarantinedAt,
  )
  try {
    await ClassicLevel.repair(path)
  } catch (err) {
    log?.error('repairing datastore %s failed: %s', path, describe(err))
  }
  const second = await tryOpen(path)
  if (second.datastore !== undefined) {
    log?.error('datastore %s repaired and open; records it could not read are gone', path)
    return { datastore: second.datastore, recovery: { action: 'repaired', cause, quarantinedAt } }
  }
  log?.error(
    'datastore %s still does not open after repair (%s): starting on an empty one; the corrupted store is kept at %s',
    path,
    describe(second.error),
    quarantinedAt,
  )
  await rm(path, { recursive: true, force: true })
  await mkdir(path, { recursive: true, mode: 0o700 })
  const fresh = new BatchingLevelDatastore(path)
  await fresh.open()
  return { datastore: fresh, recovery: { action: 'replaced', cause, quarantinedAt } }
}

/** The `datastore` entry of `node.health` after a recovery at start (degraded until a restart). */
export function datastoreCheck(recovery: DatastoreRecovery): string {
  return recovery.action === 'repaired'
    ? `repaired at start after corruption (${recovery.cause}); records in damaged blocks were lost; the corrupted store is kept at ${recovery.quarantinedAt}`
    : `corrupted (${recovery.cause}) beyond repair: started empty; the corrupted store is kept at ${recovery.quarantinedAt}`
}

async function tryOpen(
  path: string,
): Promise<{ datastore: LevelDatastore; error?: never } | { datastore?: never; error: unknown }> {
  const datastore = new BatchingLevelDatastore(path)
  try {
    // The database is opened directly (with the options `datastore.open()` uses, which then finds
    // it open): datastore-level's own error keeps only a string, not LevelDB's corruption code.
    await datastore.db.open({ createIfMissing: true, compression: false })
    await datastore.open()
    return { datastore }
  } catch (error) {
    await datastore.close().catch(() => {})
    return { error }
  }
}

/** LevelDB's corruption, however deep in the causes the wrappers put it. */
function isCorruption(err: unknown): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const { code, message } = e as { code?: unknown; message?: unknown }
    if (code === 'LEVEL_CORRUPTION' || (typeof message === 'string' && /corrupt/i.test(message))) return true
  }
  return false
}

function describe(err: unknown): string {
  const messages: string[] = []
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause)
    if (typeof (e as { message?: unknown }).message === 'string') messages.push((e as Error).message)
  return messages.join(': ') || String(err)
}
