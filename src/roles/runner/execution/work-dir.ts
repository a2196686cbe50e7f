/** Per-job working directories: created empty before a job runs, removed with everything in it after. */

import { mkdirSync, mkdtempSync } from 'node:fs'
import { readdir, rm, rmdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A job's work directory, made the first time the job reads its path: most jobs (no-op and
 * pure-compute kinds, `sal` scripts that touch no file) never do, and for a no-op job the mkdtemp
 * and rmdir were about half of the runner's CPU (BENCHMARKS.md, third session). Made synchronously,
 * inside the handler that asked: one mkdir costs less than the thread-pool round trip of the async
 * call.
 */
export class JobWorkDir {
  private made: string | undefined

  constructor(
    private readonly base: string,
    private readonly jobId: string,
  ) {}

  /** The directory's path, creating `<base>/<job id, made filename-safe>-XXXXXX` (mode 0700) once. */
  get path(): string {
    this.made ??= createWorkDir(this.base, this.jobId)
    return this.made
  }

  /** True once the job has read its path (the directory was made). */
  get exists(): boolean {
    return this.made !== undefined
  }

  /** Removes the directory with everything in it, if the job ever had one. */
  async remove(): Promise<void> {
    if (this.made !== undefined) await removeWorkDir(this.made)
  }
}

function createWorkDir(base: string, jobId: string): string {
  const safe = jobId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)
  const prefix = join(base, `${safe}-`)
  // The base nearly always exists already: creating it only when mkdtemp says it is missing saves
  // a syscall on every job that has a directory.
  try {
    return mkdtempSync(prefix)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(base, { recursive: true, mode: 0o700 })
  return mkdtempSync(prefix)
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
