/**
 * How the coordinator talks to one supervisor. A remote one: one `Libp2pRpcClient` session for
 * every call plus one `supervisor.job_events` subscription, so completions arrive pushed instead of
 * polled; when that subscription breaks the supervisor is reported down and its jobs fail over. A
 * supervisor in the same node is called directly (a node cannot dial itself).
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { type JobEnvelope, JobRejectedError } from '../../../protocols/jobs/index.js'
import { Libp2pRpcClient, RemoteError } from '../../../protocols/rpc/index.js'
import {
  type JobEvent,
  type JobResultView,
  type JobStatusView,
  SUPERVISOR_ERRORS,
  type SupervisorService,
} from '../../supervisor/index.js'
import { resultView, statusView } from '../../supervisor/job-record.js'

export interface SupervisorLink {
  readonly peerId: string
  /** Resolves once events of this supervisor are flowing (jobs may be sent from then on). */
  ready(): Promise<void>
  /** `traceparent`: the step attempt's span, sent beside the envelope (never inside it). */
  submit(job: JobEnvelope, signal: AbortSignal, traceparent?: string): Promise<JobStatusView>
  /**
   * The job's current status and, once terminal, its result; with `includeJob`, its envelope.
   * With `reserveFor` (this coordinator's key; a remote supervisor takes the caller's), a
   * supervisor without the job holds its id for this coordinator (`supervisor.get_job_result`).
   */
  result(jobId: string, signal: AbortSignal, options?: ResultOptions): Promise<JobResultView>
  /**
   * `release`: this coordinator moved the job to another supervisor and gives this copy up; a
   * runner the other supervisor also follows the job on keeps running it.
   */
  cancel(jobId: string, signal: AbortSignal, options?: { release?: boolean }): Promise<void>
  logs(jobId: string, signal: AbortSignal): Promise<string[]>
  close(): Promise<void>
}

export interface ResultOptions {
  includeJob?: boolean
  reserveFor?: string
}

export interface LinkHandlers {
  onEvent(event: JobEvent, supervisor: string): void
  /** The link broke (its event stream ended): its jobs need another supervisor. */
  onDown(supervisor: string, err: Error): void
}

/** The error's class name, also for errors rebuilt from the wire. */
export function errorName(err: unknown): string {
  if (err instanceof RemoteError) return err.remoteName
  return err instanceof Error ? err.name : 'Error'
}

export class LocalSupervisorLink implements SupervisorLink {
  readonly peerId: string
  private readonly service: SupervisorService
  private readonly listener: (evt: CustomEvent<JobEvent>) => void

  constructor(peerId: string, service: SupervisorService, handlers: LinkHandlers) {
    this.peerId = peerId
    this.service = service
    this.listener = (evt) => handlers.onEvent(evt.detail, peerId)
    service.addEventListener('job:status', this.listener)
  }

  async ready(): Promise<void> {}

  async submit(job: JobEnvelope, _signal?: AbortSignal, traceparent?: string): Promise<JobStatusView> {
    // A step waits for a runner of its kind (one may be restarting); the run shows it pending.
    return statusView(await this.service.submit(job, 'rpc', { waitForRunner: true, traceparent }))
  }

  async result(jobId: string, _signal?: AbortSignal, options: ResultOptions = {}): Promise<JobResultView> {
    if (options.reserveFor !== undefined && this.service.findRecord(jobId) === undefined)
      this.service.reserve(jobId, options.reserveFor)
    const record = this.service.status(jobId)
    const view = resultView(record)
    return options.includeJob === true ? { ...view, job: record.job } : view
  }

  async cancel(jobId: string, _signal?: AbortSignal, options: { release?: boolean } = {}): Promise<void> {
    await this.service.cancel(jobId, options)
  }

  async logs(jobId: string): Promise<string[]> {
    return this.service.logs(jobId)
  }

  async close(): Promise<void> {
    this.service.removeEventListener('job:status', this.listener)
  }
}

export class RemoteSupervisorLink implements SupervisorLink {
  readonly peerId: string
  private readonly client: Libp2pRpcClient
  private readonly controller = new AbortController()
  private readonly subscribed: Promise<void>
  private readonly log: Logger

  constructor(
    init: { libp2p: Libp2p; peerId: string; target: string; logger: ComponentLogger },
    handlers: LinkHandlers,
  ) {
    this.peerId = init.peerId
    this.log = init.logger.forComponent('horus:coordinator:supervisor-link')
    this.client = new Libp2pRpcClient({
      libp2p: init.libp2p,
      target: init.target,
      errors: [JobRejectedError, ...SUPERVISOR_ERRORS],
      logger: init.logger,
    })
    const sub = this.client.subscribe<JobEvent>(
      'supervisor.job_events',
      {},
      { signal: this.controller.signal },
    )
    this.subscribed = sub.id.then(() => undefined)
    // Readiness is awaited by senders; an unobserved rejection here is reported through onDown.
    this.subscribed.catch(() => {})
    const follow = async (): Promise<void> => {
      for await (const event of sub) handlers.onEvent(event, this.peerId)
    }
    follow().then(
      () => {
        if (!this.controller.signal.aborted) handlers.onDown(this.peerId, new Error('event stream ended'))
      },
      (err: Error) => {
        if (!this.controller.signal.aborted) handlers.onDown(this.peerId, err)
      },
    )
  }

  ready(): Promise<void> {
    return this.subscribed
  }

  submit(job: JobEnvelope, signal: AbortSignal, traceparent?: string): Promise<JobStatusView> {
    return this.client.call<JobStatusView>(
      'supervisor.create_job',
      { job: job as unknown as Record<string, unknown>, waitForRunner: true },
      traceparent === undefined ? { signal } : { signal, traceparent },
    )
  }

  result(jobId: string, signal: AbortSignal, options: ResultOptions = {}): Promise<JobResultView> {
    const params = {
      jobId,
      ...(options.includeJob === true ? { includeJob: true } : {}),
      ...(options.reserveFor === undefined ? {} : { reserve: true }),
    }
    return this.client.call<JobResultView>('supervisor.get_job_result', params, { signal })
  }

  async cancel(jobId: string, signal: AbortSignal, options: { release?: boolean } = {}): Promise<void> {
    const params = options.release === true ? { jobId, release: true } : { jobId }
    await this.client.call('supervisor.cancel_job', params, { signal })
  }

  logs(jobId: string, signal: AbortSignal): Promise<string[]> {
    return this.client.call<string[]>('supervisor.get_job_logs', { jobId }, { signal })
  }

  async close(): Promise<void> {
    this.controller.abort()
    await this.client
      .close()
      .catch((err: Error) => this.log('closing link to %s: %s', this.peerId, err.message))
  }
}
