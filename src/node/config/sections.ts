/**
 * The sections of the node config that later layers own (`trust`, `runner`, `supervisor`,
 * `coordinator`, `triggers`, `blobs`), checked together with the node's own settings so one run of
 * `horus node start` reports every problem in the file, not one section per attempt.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import { TrustPolicy } from '../../protocols/jobs/trust-policy.js'
import { readCoordinatorConfig } from '../../roles/coordinator/service/config.js'
import { readRunnerConfig } from '../../roles/runner/service/config.js'
import { readSupervisorConfig } from '../../roles/supervisor/config.js'
import { readBlobConfig } from '../blobs.js'
import type { ConfigIssues } from './validate.js'

export function checkSections(raw: Record<string, unknown>, issues: ConfigIssues): void {
  const collect = (read: () => void): void => {
    try {
      read()
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      for (const issue of err.issues) issues.list.push(issue)
    }
  }
  if (raw.trust !== undefined) collect(() => TrustPolicy.parse(raw.trust))
  collect(() => readRunnerConfig(raw.runner))
  checkPluginFiles(raw.runner, issues)
  collect(() => readSupervisorConfig(raw.supervisor))
  collect(() => readCoordinatorConfig(raw.coordinator, raw.triggers))
  collect(() => readBlobConfig(raw.blobs))
}

/** A plugin path that names no file is reported now, not when the runner starts. */
function checkPluginFiles(runner: unknown, issues: ConfigIssues): void {
  const plugins = (runner as { plugins?: unknown } | undefined)?.plugins
  if (!Array.isArray(plugins)) return
  plugins.forEach((plugin, i) => {
    if (typeof plugin === 'string' && plugin !== '' && !existsSync(resolve(plugin)))
      issues.add(`runner.plugins[${i}]`, `no such file: ${resolve(plugin)}`)
  })
}
