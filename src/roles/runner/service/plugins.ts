import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { RegisteredFunction } from '../execution/function-registry.js'
import type { KindHandler } from '../execution/index.js'
import { RunnerConfigError } from './errors.js'

/** What a plugin module exports: script functions and/or custom kinds, both optional. */
export interface RunnerPlugin {
  functions: Record<string, RegisteredFunction>
  kinds: Record<string, KindHandler>
}

/**
 * Loads operator plugin modules (config `runner.plugins`: paths to ES modules exporting `functions`
 * and/or `kinds`). Plugins are trusted code chosen by whoever runs the node — like the host
 * functions of the seed's runners — not job payloads, which stay in the sandbox.
 */
export async function loadRunnerPlugins(
  paths: readonly string[],
  baseDir = process.cwd(),
): Promise<RunnerPlugin> {
  const merged: RunnerPlugin = { functions: {}, kinds: {} }
  for (const [i, path] of paths.entries()) {
    const file = isAbsolute(path) ? path : resolve(baseDir, path)
    let module: Record<string, unknown>
    try {
      module = (await import(pathToFileURL(file).href)) as Record<string, unknown>
    } catch (err) {
      const reason = String((err as Error).message ?? err).split('\n')[0]
      throw new RunnerConfigError([`runner.plugins[${i}]: cannot load ${file}: ${reason}`], { cause: err })
    }
    for (const section of ['functions', 'kinds'] as const) {
      const exported = module[section]
      if (exported === undefined) continue
      if (typeof exported !== 'object' || exported === null) {
        throw new RunnerConfigError([
          `runner.plugins[${i}]: ${file} exports ${section} that is not an object`,
        ])
      }
      for (const [name, fn] of Object.entries(exported)) {
        if (typeof fn !== 'function') {
          throw new RunnerConfigError([
            `runner.plugins[${i}]: ${section}.${name} in ${file} is not a function`,
          ])
        }
        ;(merged[section] as Record<string, unknown>)[name] = fn
      }
    }
    if (module.functions === undefined && module.kinds === undefined) {
      throw new RunnerConfigError([`runner.plugins[${i}]: ${file} exports neither functions nor kinds`])
    }
  }
  return merged
}
