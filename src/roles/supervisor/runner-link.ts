/**
 * How the supervisor talks to one runner. Remote runners: one `Libp2pRpcClient` session (reused
 * for every dispatch, reopened by the client if it dies) plus one `runner.logs` subscription for
 * every job this supervisor handed to the runner, so `running`, log lines and the executions of
 * jobs sent in batches (execute-batcher.ts) arrive without a stream or a held call per job. A runner in the same node is called directly: a node cannot dial itself, and its
 * jobs were verified by the same verifier already.
 */
import type { ComponentLogger, Libp2p, Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { abortable } from '../../core/abortable.js'
import { type JobEnvelope, JobRejectedError } from '../../protocols/jobs/index.js'
import {
  ConnectionClosedError,
  Libp2pRpcClient,
  type RpcParams,
  type RpcSubscription,
} from '../../protocols/rpc/index.js'
import { RUNNER_ERRORS } from '../runner/service/errors.js'
import type {
  ExecuteManyItem,
  ExecuteResponse,
  RunnerDescription,
  RunnerJobEvent,
  RunnerStreamEvent,
} from '../runner/service/wire.js'
import type { Cancellation } from './cancellation.js'
import { ExecuteBatcher } from './execute-batcher.js'

const KNOWN_ERRORS = [JobRejectedError, ...RUNNER_ERRORS]

/** How long a runner may take to say which jobs of an `execute_many` it started. @default 30_000 */
const EXECUTE_MANY_TIMEOUT_MS = 30_000

export interface ExecuteCall {
  /** The dispatch's abort: `execute` rejects (CancelledError) as soon as it aborts. */
  cancel: Cancellation
  timeoutMs: number
  /** The dispatch span, sent beside the envelope (never inside it). */
  traceparent?: string | undefined
  /**
   * Only an execution of this job the runner already has may answer (joined, or its kept result);
   * it must not start one. For a job whose nonce the runner spent for another supervisor.
   */
  answerOnly?: boolean
}

/** `release`: stop following the job only, if another supervisor follows it (RunnerService.cancel). */
export interface CancelOptions {
  release?: boolean
}

export interface RunnerLink {
  readonly peerId: string
  execute(job: JobEnvelope, call: ExecuteCall): Promise<ExecuteResponse>
  cancel(jobId: string, options?: CancelOptions): Promise<boolean>
  describe(signal: AbortSignal): Promise<RunnerDescription>
  close(): Promise<void>
}

/** A runner in this same process (node with both roles, or an SDK embedding both). */
export interface LocalRunner {
  readonly peerId: string
  execute(
    job: JobEnvelope,
    options: { trusted: true; dispatcher: string; traceparent?: string | undefined; answerOnly?: boolean },
  ): Promise<ExecuteResponse>
  /** `by`: the supervisor asking (see RunnerService.cancel). */
  cancel(jobId: string, by?: string, options?: CancelOptions): Promise<boolean>
  describe(): RunnerDescription
  onJobEvent(listener: (event: RunnerJobEvent) => void): () => void
  /** Whether this very job is running here or its result is kept: a dispatch of it is answered, not run. */
  holds(job: JobEnvelope): Promise<boolean>
}

export class RemoteRunnerLink implements RunnerLink {
  readonly peerId: string
  private readonly client: Libp2pRpcClient
  private readonly log: Logger
  private subscription: RpcSubscription<RunnerStreamEvent> | undefined
  private ready: Promise<void> | undefined
  private readonly batcher: ExecuteBatcher

  constructor(init: {
    libp2p: Pick<Libp2p, 'dialProtocol' | 'peerRouting' | 'getConnections' | 'peerStore'>
    peerId: string
    logger: ComponentLogger
    onEvent: (event: RunnerJobEvent) => void
    /** The runner sent an execution for a job it was not handed in a batch (dropped). */
    onStray?: (jobId: unknown) => void
  }) {
    this.peerId = init.peerId
    this.log = init.logger.forComponent('horus:supervisor:link')
    this.client = new Libp2pRpcClient({
      libp2p: init.libp2p,
      target: peerIdFromString(init.peerId),
      errors: KNOWN_ERRORS,
      logger: init.logger,
    })
    this.onEvent = init.onEvent
    this.batcher = new ExecuteBatcher({
      one: async (job, call) => {
        const signal = call.cancel.signal
        await this.subscribed(signal)
        const { timeoutMs, traceparent } = call
        return this.client.call<ExecuteResponse>(
          'runner.execute',
          { job },
          traceparent === undefined ? { signal, timeoutMs } : { signal, timeoutMs, traceparent },
        )
      },
      many: async (jobs) => {
        await this.subscribed(AbortSignal.timeout(EXECUTE_MANY_TIMEOUT_MS))
        const answer = await this.client.call<{ accepted: ExecuteManyItem[] }>(
          'runner.execute_many',
          { jobs: jobs as unknown as RpcParams },
          { timeoutMs: EXECUTE_MANY_TIMEOUT_MS },
        )
        return answer.accepted
      },
      errors: new Map(KNOWN_ERRORS.map((c) => [c.name, c])),
      log: this.log,
      ...(init.onStray === undefined ? {} : { onStray: init.onStray }),
    })
  }

  private readonly onEvent: (event: RunnerJobEvent) => void

  /** Jobs of one pump go together as `runner.execute_many` (see execute-batcher.ts). */
  execute(job: JobEnvelope, call: ExecuteCall): Promise<ExecuteResponse> {
    return this.batcher.execute(job, call)
  }

  async cancel(jobId: string, options: CancelOptions = {}): Promise<boolean> {
    const params = options.release === true ? { jobId, release: true } : { jobId }
    return this.client.call<boolean>('runner.cancel', params, { timeoutMs: 5_000 })
  }

  async describe(signal: AbortSignal): Promise<RunnerDescription> {
    return this.client.call<RunnerDescription>('runner.describe', {}, { signal })
  }

  async close(): Promise<void> {
    await this.subscription?.unsubscribe().catch(() => {})
    await this.client.close()
  }

  /**
   * The log subscription is opened before the first dispatch (so no early line is missed) and
   * again after the session died; a dispatch waits for it (until its own signal aborts). The
   * subscription lives as long as the link: it carries every batched job's execution, so no
   * single dispatch's signal may end it.
   */
  private subscribed(signal: AbortSignal): Promise<void> {
    if (this.ready === undefined) {
      const subscription = this.client.subscribe<RunnerStreamEvent>('runner.logs', {})
      this.subscription = subscription
      const ready = subscription.id.then(() => undefined)
      this.ready = ready
      ready.catch(() => {
        if (this.ready === ready) this.ready = undefined
      })
      this.consume(subscription, ready)
    }
    return abortable(this.ready, signal)
  }

  private consume(subscription: RpcSubscription<RunnerStreamEvent>, ready: Promise<void>): void {
    void (async () => {
      let reason: Error = new ConnectionClosedError('the runner ended it')
      try {
        for await (const event of subscription) {
          if (event.type === 'results') {
            // Starts first: a job that started and ended in the same moment is seen running, then done.
            for (const jobId of Array.isArray(event.started) ? event.started : []) {
              if (typeof jobId === 'string') this.onEvent({ jobId, type: 'started', at: event.at })
            }
            this.batcher.deliver(Array.isArray(event.results) ? event.results : [])
          } else this.onEvent(event)
        }
      } catch (err) {
        this.log('log subscription to %s ended: %s', this.peerId, (err as Error).message)
        reason = err instanceof Error ? err : new ConnectionClosedError(String(err))
      } finally {
        if (this.ready === ready) this.ready = undefined
        // Executions of batched jobs came on this stream: without it, they cannot arrive.
        if (this.subscription === subscription) this.batcher.streamEnded(reason)
      }
    })()
  }
}

export class LocalRunnerLink implements RunnerLink {
  readonly peerId: string
  private readonly detach: () => void

  constructor(
    private readonly runner: LocalRunner,
    private readonly self: string,
    onEvent: (event: RunnerJobEvent) => void,
  ) {
    this.peerId = runner.peerId
    this.detach = runner.onJobEvent(onEvent)
  }

  async execute(job: JobEnvelope, call: ExecuteCall): Promise<ExecuteResponse> {
    return call.cancel.race(
      this.runner.execute(job, {
        trusted: true,
        dispatcher: this.self,
        traceparent: call.traceparent,
        answerOnly: call.answerOnly === true,
      }),
    )
  }

  cancel(jobId: string, options: CancelOptions = {}): Promise<boolean> {
    return this.runner.cancel(jobId, this.self, options)
  }

  async describe(): Promise<RunnerDescription> {
    return this.runner.describe()
  }

  async close(): Promise<void> {
    this.detach()
  }
}
