/**
 * Keeps a node's trust policy in step with its config file: re-reads the `trust:` section when the
 * file changes (debounced) and when `reload()` is called (the node calls it on SIGHUP). A file that
 * does not parse or validate never replaces a working policy: the old one stays in force, the
 * error is logged and announced as `policy:rejected`.
 */
import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { parse as parseYaml } from 'yaml'
import { createLogger } from '../../core/logger.js'
import { DEFAULT_TRUST_RELOAD_DEBOUNCE_MS } from './constants.js'
import { TrustPolicyError } from './errors.js'
import { TrustPolicy } from './trust-policy.js'

export interface TrustPolicyWatcherInit {
  /** The node's YAML config file. */
  file: string
  /** This node's hex public key or peer ID: always trusted. */
  self?: string
  logger?: ComponentLogger
  /** @default DEFAULT_TRUST_RELOAD_DEBOUNCE_MS */
  debounceMs?: number
}

export interface TrustPolicyWatcherEvents {
  'policy:reloaded': CustomEvent<{ policy: TrustPolicy }>
  'policy:rejected': CustomEvent<{ error: Error }>
}

export class TrustPolicyWatcher extends TypedEventEmitter<TrustPolicyWatcherEvents> implements Startable {
  readonly #file: string
  readonly #self: string | undefined
  readonly #log: Logger
  readonly #debounceMs: number
  #policy: TrustPolicy | undefined
  #lastText: string | undefined
  #watcher: FSWatcher | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #queue: Promise<boolean> = Promise.resolve(true)

  constructor(init: TrustPolicyWatcherInit) {
    super()
    this.#file = init.file
    this.#self = init.self
    this.#log = (init.logger ?? createLogger()).forComponent('horus:trust')
    this.#debounceMs = init.debounceMs ?? DEFAULT_TRUST_RELOAD_DEBOUNCE_MS
  }

  /** The policy in force; throws before `start()`. */
  get policy(): TrustPolicy {
    if (this.#policy === undefined) throw new TrustPolicyError(['trust: policy watcher is not started'])
    return this.#policy
  }

  /** Loads the file (an invalid file fails the start) and begins watching it. */
  async start(): Promise<void> {
    if (this.#watcher !== undefined) return
    const { policy, text } = await this.#read()
    this.#policy = policy
    this.#lastText = text
    // Watch the directory, not the file: editors save by writing a new file and renaming it over
    // the old one, which would leave a file watch pointing at a deleted inode.
    const name = basename(this.#file)
    this.#watcher = watch(dirname(this.#file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) this.#schedule()
    })
    this.#watcher.on('error', (err) => {
      this.#log.error('watching %s failed: %e', this.#file, err)
    })
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#watcher?.close()
    this.#watcher = undefined
    await this.#queue
  }

  /** Re-reads the file now. Resolves true when the new policy is in force, false when rejected. */
  async reload(): Promise<boolean> {
    return this.#enqueue(true)
  }

  #schedule(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#watcher !== undefined) void this.#enqueue(false)
    }, this.#debounceMs)
  }

  #enqueue(force: boolean): Promise<boolean> {
    this.#queue = this.#queue.then(() => this.#apply(force))
    return this.#queue
  }

  async #apply(force: boolean): Promise<boolean> {
    try {
      const { policy, text } = await this.#read()
      // File events come in bursts (truncate, write, chmod); only a changed text is news.
      if (!force && text === this.#lastText) return true
      this.#policy = policy
      this.#lastText = text
      this.#log('trust policy reloaded from %s (%d keys)', this.#file, policy.keys.length)
      this.safeDispatchEvent('policy:reloaded', { detail: { policy } })
      return true
    } catch (err) {
      const error = err instanceof Error ? err : new TrustPolicyError([String(err)])
      this.#log.error('trust policy in %s rejected, keeping the previous one: %s', this.#file, error.message)
      this.safeDispatchEvent('policy:rejected', { detail: { error } })
      return false
    }
  }

  async #read(): Promise<{ policy: TrustPolicy; text: string }> {
    let text: string
    try {
      text = await readFile(this.#file, 'utf8')
    } catch (err) {
      throw new TrustPolicyError([`${this.#file}: cannot read (${(err as NodeJS.ErrnoException).code})`])
    }
    let doc: unknown
    try {
      doc = parseYaml(text)
    } catch (err) {
      throw new TrustPolicyError([`${this.#file}: invalid YAML: ${(err as Error).message}`])
    }
    // An empty document is what a reader sees mid-save; it must not wipe the policy.
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw new TrustPolicyError([`${this.#file}: expected a mapping at the top level`])
    }
    const section = (doc as Record<string, unknown>).trust
    const policy = TrustPolicy.parse(section, this.#self === undefined ? {} : { self: this.#self })
    return { policy, text }
  }
}
