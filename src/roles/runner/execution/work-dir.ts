/** Per-job working directories: created empty before a job runs, removed with everything in it after. */

import { mkdir, mkdtemp, readdir, rm, rmdir } from 'node:fs/promises'
import { join } from 'node:path'

/** Creates `<base>/<job id, made filename-safe>-XXXXXX` (mode 0700). */
export async function createWorkDir(base: string, jobId: string): Promise<string> {
  const safe = jobId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)
  const prefix = join(base, `${safe}-`)
  // The base nearly always exists already: creating it only when mkdtemp says it is missing saves
  // a syscall on every job (no-op jobs spend a noticeable share of their CPU here).
  try {
    return await mkdtemp(prefix)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await mkdir(base, { recursive: true, mode: 0o700 })
  return mkdtemp(prefix)
}

export async function removeWorkDir(dir: string): Promise<void> {
  // Most jobs leave their directory empty: one rmdir instead of rm's lstat + rimraf walk.
  try {
    await rmdir(dir)
    return
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/**
 * Removes everything under `base`: work directories a killed runner left behind. Only for a base
 * this runner alone uses (its data dir's, or a configured one); returns how many were removed.
 */
export async function sweepWorkDirs(base: string): Promise<number> {
  let names: string[]
  try {
    names = await readdir(base)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  await Promise.all(
    names.map((name) => rm(join(base, name), { recursive: true, force: true, maxRetries: 3 })),
  )
  return names.length
}
