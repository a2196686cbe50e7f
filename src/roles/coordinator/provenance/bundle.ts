/**
 * A run's provenance bundle (`horus workflow export`): everything needed to check, offline and
 * with no mesh, that a run's outputs were computed by runners its policy trusts, for jobs that
 * chain back to the signed submission, in the order of the workflow's DAG. See ../API.md
 * ("Provenance bundle") for the format and what `verifyRunBundle` checks.
 */
import {
  canonicalJson,
  type JobAuthority,
  type JobEnvelope,
  type JobResult,
  type Signer,
  type TrustRole,
  toHex,
} from '../../../protocols/jobs/index.js'
import type { StepKind } from '../workflow/types.js'

/** The `format` of a bundle; a verifier refuses any other. */
export const RUN_BUNDLE_FORMAT = 'horus/v1/run-bundle'

/** A policy entry used by the run, as the exporting coordinator's policy held it at export time. */
export interface BundleKey {
  /** Lower-case hex Ed25519 public key. */
  key: string
  /** The key's peer ID, for people (checked against `key`). */
  peerId: string
  name?: string
  /** Empty when the key is no longer in the exporter's policy. */
  roles: TrustRole[]
  capabilities: string[]
}

/** One attempt of a job step: the envelopes signed for it and the signed results believed. */
export interface BundleAttempt {
  attempt: number
  /** Usually one; more when a coordinator that took the run over signed its own. */
  jobs: JobEnvelope[]
  results: JobResult[]
}

/** One child of a `for_each` step (step id `<step>[<index>]`): a job step of its own. */
export interface BundleItem {
  index: number
  /** As recorded in the run. */
  state: string
  /** The recorded output of a succeeded child (a blob reference for a big one). */
  output?: unknown
  attempts: BundleAttempt[]
}

/** The signal a `wait_for_signal` step completed with. */
export interface BundleSignal {
  name: string
  /** The signal's data: the step's output. */
  data: unknown
  /**
   * Hex key of who delivered it, as the delivering coordinator recorded it (the deliverer does
   * not sign the data); null when the run's log does not say.
   */
  deliveredBy: string | null
}

/** One step of the DAG, in the compiled workflow's topological order. */
export interface BundleStep {
  id: string
  kind: StepKind
  /** The capability of a job step. */
  runner?: string
  /** Ids of the steps it depends on. */
  dependsOn: string[]
  /** As recorded in the run (`pending` when it never started). */
  state: string
  /**
   * The recorded output of a succeeded step: a blob reference (`{ "$blob": digest, … }`) for one
   * stored as a blob, whose value the bundle does not carry; a `for_each` step's is the list of
   * its children's outputs.
   */
  output?: unknown
  /** Job steps only (not a `for_each` step: its children's are under `items`), ascending. */
  attempts: BundleAttempt[]
  /** A `for_each` step that started: its children, by index. */
  items?: BundleItem[]
  /** A signal step whose signal was delivered. */
  signal?: BundleSignal
}

export interface RunBundle {
  format: typeof RUN_BUNDLE_FORMAT
  runId: string
  /** ISO-8601. */
  exportedAt: string
  /** Hex key of the coordinator that exported it, and signed it (`signature`). */
  exportedBy: string
  /** The run's status when exported (informational). */
  status: string
  /** The run's signed submission, or its trigger's signed registration and the firing. */
  authority: JobAuthority
  /** The workflow document the authority's `workflowDigest` covers. */
  workflow: unknown
  /** The inputs as submitted: what the authority's `inputsDigest` covers. */
  inputs: Record<string, unknown>
  steps: BundleStep[]
  keys: BundleKey[]
  /**
   * The exporter's Ed25519 signature (hex) over the RFC 8785 canonical JSON of
   * `{ "bundle": <the bundle without signature>, "type": "horus/v1/run-bundle" }`: the exporter
   * vouches for every byte, its policy's view of the keys included.
   */
  signature: string
}

export type UnsignedRunBundle = Omit<RunBundle, 'signature'>

/** The bytes the exporter signs. */
export function bundleSigningBytes(unsigned: UnsignedRunBundle): Uint8Array {
  return new TextEncoder().encode(canonicalJson({ bundle: unsigned, type: RUN_BUNDLE_FORMAT }))
}

/** The bundle signed by `signer`, who becomes its `exportedBy`. */
export function signRunBundle(unsigned: Omit<UnsignedRunBundle, 'exportedBy'>, signer: Signer): RunBundle {
  const withKey: UnsignedRunBundle = { ...unsigned, exportedBy: toHex(signer.publicKey) }
  return { ...withKey, signature: toHex(signer.sign(bundleSigningBytes(withKey))) }
}
