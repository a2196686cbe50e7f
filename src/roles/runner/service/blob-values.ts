/**
 * Large values on a runner. A job's `input` may hold blob references (a dependency's output too
 * large to travel inline): each is fetched from the sources the reference names, verified, read
 * and parsed before the job runs, within a byte budget. An output larger than a result can carry
 * is stored as a blob here, under the digest the signed result names, and held until well after
 * the job expires so coordinators (and other runners) can fetch it.
 */
import type { BlobService } from '../../../protocols/blob/blob-service.js'
import { type BlobRef, isBlobRef } from '../../../protocols/blob/ref.js'
import type { JobEnvelope } from '../../../protocols/jobs/index.js'
import { BlobInputError } from './errors.js'

/** What a runner needs of the node's blob service. */
export type RunnerBlobs = Pick<BlobService, 'ensure' | 'store'>

/** How long past its job's expiry a produced blob stays held on the runner. @default 3_600_000 */
export const PRODUCED_BLOB_RETENTION_MS = 3_600_000

/** References anywhere in a value (bounded walk). */
function findRefs(value: unknown, out: Map<string, BlobRef>, budget = { nodes: 1_000_000 }): void {
  const stack: unknown[] = [value]
  while (stack.length > 0 && budget.nodes-- > 0) {
    const item = stack.pop()
    if (typeof item !== 'object' || item === null) continue
    if (isBlobRef(item)) out.set(item.$blob, item)
    else if (Array.isArray(item)) stack.push(...item)
    else stack.push(...Object.values(item))
  }
}

/** A copy of `value` with every reference replaced by its value (references are leaves). */
function substitute(value: unknown, values: ReadonlyMap<string, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (isBlobRef(value)) return values.get(value.$blob)
  if (Array.isArray(value)) return value.map((v) => substitute(v, values))
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, values)]))
}

/** The blob references in a job's input, by digest (empty for nearly every job). */
export function blobInputsOf(job: JobEnvelope): Map<string, BlobRef> {
  const refs = new Map<string, BlobRef>()
  findRefs(job.input, refs)
  return refs
}

/**
 * The job with its blob inputs (`refs`, from `blobInputsOf`) in place, fetched within
 * `timeoutMs`; throws BlobInputError naming what could not be had.
 */
export async function resolveBlobInputs(
  job: JobEnvelope,
  refs: ReadonlyMap<string, BlobRef>,
  blobs: RunnerBlobs | undefined,
  timeoutMs: number,
): Promise<JobEnvelope> {
  if (refs.size === 0) return job
  if (blobs === undefined) throw new BlobInputError('this runner has no blob store to fetch its inputs into')
  // Made only for a job that has inputs to fetch: an AbortSignal.timeout keeps its timer (and a
  // few hundred bytes) alive for the whole timeout, a minute by default, whether or not it is used.
  const signal = AbortSignal.timeout(timeoutMs)
  let budget = blobs.store.maxBytes
  const values = new Map<string, unknown>()
  for (const ref of refs.values()) {
    if (ref.size > budget)
      throw new BlobInputError(`inputs of job ${job.id} exceed ${blobs.store.maxBytes} bytes in all`)
    try {
      await blobs.ensure(ref, { signal })
      values.set(ref.$blob, JSON.parse(await blobs.store.readText(ref.$blob, budget)))
    } catch (err) {
      throw new BlobInputError(`input blob ${ref.$blob}: ${(err as Error).message}`, { cause: err })
    }
    budget -= ref.size
  }
  return { ...job, input: substitute(job.input, values) as Record<string, unknown> }
}

/** Stores an output's canonical JSON as a blob held for the job; returns its digest. */
export async function storeOutput(blobs: RunnerBlobs, job: JobEnvelope, canonical: string): Promise<string> {
  const stored = await blobs.store.putText(canonical)
  await blobs.store.hold(`job:${job.id}`, [stored.digest], job.expiresAt + PRODUCED_BLOB_RETENTION_MS)
  return stored.digest
}
