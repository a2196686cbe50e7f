/**
 * What becomes a run or a trigger, and under whose authority. A submission (or trigger
 * registration) signed by the caller is checked by authority-check.ts — signer = caller,
 * signature, digests, validity window, and the signer's trust for every step's capability — and
 * becomes the run's `authority`, which every step job carries. Gateway and in-process callers act
 * as this node, which signs for them; a trigger's firing runs under its registration. Refusals are
 * counted by reason.
 */
import type { Logger } from '@libp2p/interface'
import type { CallerAuthority, CallerIdentity } from '../../../node/caller-authority.js'
import {
  createSubmission,
  createTriggerRegistration,
  type JobAuthority,
  type SealedSecret,
  type SignedSubmission,
  type SignedTriggerRegistration,
  type Signer,
} from '../../../protocols/jobs/index.js'
import type { Caller } from '../../../protocols/rpc/index.js'
import type { JsonValue } from '../../../protocols/state/json-value.js'
import type { TriggerDefinition } from '../triggers/definition.js'
import { parseWorkflowText } from '../workflow/load.js'
import type { CompiledWorkflow } from '../workflow/types.js'
import { checkRegistration, checkStepCapabilities, checkSubmission, checkWindow } from './authority-check.js'
import { CapabilityDeniedError, RunExistsError, SubmissionRejectedError } from './errors.js'
import { type RunAccess, runAuthority } from './run-access.js'
import type { RunEngine } from './run-engine.js'

/** How a run is submitted besides its workflow and inputs. */
export interface SubmitOptions {
  /** The client's signed submission; without one the node signs (gateway and in-process callers). */
  submission?: unknown
  /**
   * The run id a caller without a submission of its own (gateway, in-process) chooses; the node
   * signs a submission with it. The same id with the same workflow and inputs answers the same run,
   * so a retry is safe. With a `submission` it must equal `submission.runId`. @default a random
   * UUID whose replica set includes this coordinator (`AdmissionInit.newRunId`)
   */
  runId?: string
  /** Who called (the RPC context's caller); undefined is this process. */
  caller?: Caller
  /** The sealed values of the secrets the workflow's steps name (run-secrets.ts). */
  secrets?: Readonly<Record<string, SealedSecret>>
}

export interface AdmissionInit {
  authority: CallerAuthority
  engine: RunEngine
  access: RunAccess
  /** This node's key: signs for gateway and in-process callers, and the config's triggers. */
  signer: Signer
  log: Logger
  compile(document: unknown): CompiledWorkflow
  register(definition: TriggerDefinition): Promise<void>
  /** A run id garbage-collected here: taken for good (other replicas refuse its state). */
  expired(runId: string): boolean
  /**
   * Brings the run's state here if its replica set holds it and this coordinator does not (so a
   * run id taken elsewhere in the mesh is found taken here too). Best effort, bounded in time.
   */
  fetchRun?(runId: string): Promise<void>
  /** A fresh id for a run this node names itself (gateway and in-process callers without one). */
  newRunId(): string
}

/** The document a submission digests: text is parsed first (as the SDK does before signing). */
export function parseDocument(workflow: unknown): unknown {
  return typeof workflow === 'string' ? parseWorkflowText(workflow) : workflow
}

export class Admission {
  /** Submissions and registrations refused, by reason. */
  readonly refusals: Record<string, number> = {}
  readonly #init: AdmissionInit

  constructor(init: AdmissionInit) {
    this.#init = init
  }

  /**
   * Starts a run under a signed submission; returns its id. The same signed submission again
   * answers the same run; another submission with its run id is a `RunExistsError`.
   */
  submit(workflow: unknown, inputs: unknown, options: SubmitOptions): Promise<string> {
    return this.#counted(async () => {
      const { authority, engine, access } = this.#init
      const who = authority.identify(options.caller)
      const document = parseDocument(workflow)
      const compiled = this.#init.compile(document)
      const submission = this.#submissionOf(options, document, inputs, who)
      if (!engine.runs.has(submission.runId)) await this.#init.fetchRun?.(submission.runId)
      const existing = engine.runs.get(submission.runId)
      if (this.#init.expired(submission.runId)) throw new RunExistsError(submission.runId)
      if (existing !== undefined) {
        const stored = runAuthority(existing.state.meta)
        if (
          stored !== undefined &&
          'submission' in stored &&
          this.#sameSubmission(stored.submission, submission, options)
        )
          return existing.id
        throw new RunExistsError(submission.runId)
      }
      checkWindow('submission', submission, Date.now())
      checkStepCapabilities(compiled, authority, who)
      const entry = await engine.submit(compiled, inputs, submission.runId, {
        document: document as JsonValue,
        authority: { submission },
        ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
      })
      if (who.via !== 'local') access.authorize(entry, 'submit', who)
      return entry.id
    })
  }

  /** A run a trigger fired, under its registration; the registrar's trust is checked at each firing. */
  async startTriggered(
    definition: TriggerDefinition,
    inputs: Record<string, unknown>,
    runId: string,
    at: number,
  ): Promise<string> {
    const registration = definition.registration
    if (registration === undefined)
      throw new SubmissionRejectedError('required', `trigger ${definition.name} is not signed`)
    const document = parseDocument(definition.workflow)
    const compiled = this.#init.compile(document)
    // A policy change since the registration applies to the next firing.
    checkStepCapabilities(compiled, this.#init.authority, {
      key: registration.submitter,
      via: 'libp2p',
      grant: undefined,
    })
    const authority: JobAuthority = { trigger: registration, firing: { runId, at } }
    const entry = await this.#init.engine.submit(compiled, inputs, runId, {
      document: document as JsonValue,
      authority,
    })
    return entry.id
  }

  /** Registers (or replaces) a trigger under a registration signed by the caller (or this node). */
  registerTrigger(definition: TriggerDefinition, caller: Caller | undefined): Promise<{ name: string }> {
    return this.#counted(async () => {
      const who = this.#init.authority.identify(caller)
      const document = parseDocument(definition.workflow)
      const compiled = this.#init.compile(document)
      const inputs = definition.inputs ?? {}
      let registration: SignedTriggerRegistration
      if (definition.registration !== undefined) {
        registration = checkRegistration(definition.registration, definition, document, inputs, who)
      } else if (who.via === 'libp2p') {
        throw new SubmissionRejectedError(
          'required',
          'coordinator.register_trigger needs a registration signed by the caller (HorusClient.registerTrigger signs one)',
        )
      } else registration = this.signRegistration({ ...definition, workflow: document })
      checkWindow('registration', registration, Date.now())
      checkStepCapabilities(compiled, this.#init.authority, who)
      await this.#init.register({ ...definition, workflow: document, registration })
      return { name: definition.name }
    })
  }

  /** This node's registration of a trigger (the config's, or one registered through the gateway). */
  signRegistration(definition: TriggerDefinition): SignedTriggerRegistration {
    return createTriggerRegistration(
      {
        name: definition.name,
        kind: definition.kind,
        ...(definition.schedule === undefined ? {} : { schedule: definition.schedule }),
        ...(definition.timezone === undefined ? {} : { timezone: definition.timezone }),
        ...(definition.overlap === undefined ? {} : { overlap: definition.overlap }),
        ...(definition.catch_up === undefined ? {} : { catch_up: definition.catch_up }),
        workflow: parseDocument(definition.workflow),
        inputs: definition.inputs ?? {},
      },
      this.#init.signer,
    )
  }

  /**
   * Is `stored` (the existing run's) the same submission as `given`? The same signature; or, for a
   * run id the node signed for a caller without a key of its own, the same signer, workflow and inputs.
   */
  #sameSubmission(stored: SignedSubmission, given: SignedSubmission, options: SubmitOptions): boolean {
    if (stored.signature === given.signature) return true
    return (
      options.submission === undefined &&
      stored.submitter === given.submitter &&
      stored.workflowDigest === given.workflowDigest &&
      stored.inputsDigest === given.inputsDigest
    )
  }

  #submissionOf(
    options: SubmitOptions,
    document: unknown,
    inputs: unknown,
    who: CallerIdentity,
  ): SignedSubmission {
    const given = options.submission
    if (given !== undefined) {
      const checked = checkSubmission(given, document, inputs, who)
      if (options.runId !== undefined && options.runId !== checked.runId) {
        throw new SubmissionRejectedError(
          'malformed',
          `runId ${JSON.stringify(options.runId)} differs from submission.runId ${JSON.stringify(checked.runId)}: send one or make them equal`,
        )
      }
      return checked
    }
    if (who.via === 'libp2p') {
      throw new SubmissionRejectedError(
        'required',
        'coordinator.submit_workflow needs a submission signed by the caller (HorusClient.submitWorkflow signs one)',
      )
    }
    const submission = createSubmission(
      {
        runId: options.runId ?? this.#init.newRunId(),
        workflow: document,
        inputs: inputs as Record<string, unknown>,
      },
      this.#init.signer,
    )
    return checkSubmission(submission, document, inputs, who)
  }

  /** Counts a refused submission or registration by its reason, and rethrows. */
  async #counted<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof SubmissionRejectedError || err instanceof CapabilityDeniedError) {
        this.refusals[err.reason] = (this.refusals[err.reason] ?? 0) + 1
        this.#init.log('refused: %s', err.message)
      }
      throw err
    }
  }
}
