/**
 * Global set-up of the `browser` test project (the dashboard tests): finds a Chromium to drive with
 * playwright-core, or installs Debian's `chromium` when it runs as root with apt-get — so
 * `npm ci && npm test` passes on a fresh machine with only Node and npm. Browsers are never
 * downloaded from a CDN (`npx playwright install` cannot work where only package registries are
 * reachable). Vitest runs this only when a browser test is part of the run.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { TestProject } from 'vitest/node'

/** Executable names tried on PATH, in order. */
const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the Chromium executable the browser tests launch. */
    chromium: string
  }
}

export default function setup(project: TestProject): void {
  project.provide('chromium', locateOrInstallChromium())
}

export function locateOrInstallChromium(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HORUS_CHROMIUM
  if (explicit !== undefined && explicit !== '') {
    const problem = unusable(explicit)
    if (problem !== undefined) throw new Error(`HORUS_CHROMIUM=${explicit}: ${problem}`)
    return explicit
  }
  const found = locate(env)
  if (found !== undefined) return found
  if (process.getuid?.() === 0 && onPath('apt-get', env) !== undefined) {
    installWithApt()
    const installed = locate(env)
    if (installed !== undefined) return installed
    throw new Error('apt-get installed chromium, but no working chromium is on PATH afterwards')
  }
  throw new Error(
    `the dashboard tests need Chromium and none was found (looked for ${CANDIDATES.join(', ')} on PATH). ` +
      'Install it with "sudo apt-get install -y chromium" (Debian/Ubuntu), or point HORUS_CHROMIUM at a ' +
      'Chromium or Chrome executable. Run as root, the test set-up installs it itself.',
  )
}

function locate(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of CANDIDATES) {
    const path = onPath(name, env)
    if (path !== undefined && unusable(path) === undefined) return path
  }
  return undefined
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const path = join(dir, name)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

/** Why the executable cannot serve (a snap stub in a container fails `--version`), or undefined. */
function unusable(path: string): string | undefined {
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 })
  if (probe.error !== undefined) return probe.error.message
  if (probe.status !== 0) return `"${path} --version" exited with ${probe.status}: ${probe.stderr.trim()}`
  return undefined
}

function installWithApt(): void {
  process.stderr.write('browser tests: no Chromium found; installing Debian\'s "chromium" with apt-get …\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'chromium'],
  ]) {
    try {
      execFileSync('apt-get', args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 })
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string }
      throw new Error(`apt-get ${args.join(' ')} failed: ${e.stderr?.toString().trim() || e.message}`)
    }
  }
}
