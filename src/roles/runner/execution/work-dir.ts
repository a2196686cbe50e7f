/** Per-job working directories: created empty before a job runs, removed with everything in it after. */

import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** Creates `<base>/<job id, made filename-safe>-XXXXXX` (mode 0700). */
export async function createWorkDir(base: string, jobId: string): Promise<string> {
  await mkdir(base, { recursive: true, mode: 0o700 })
  const safe = jobId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)
  return mkdtemp(join(base, `${safe}-`))
}

export async function removeWorkDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}
