import { existsSync } from 'node:fs'

/** Headless Chromium flags for CI containers: no sandbox, no GPU, no network side traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Debian's chromium (CI installs it). Missing is a failure, not a skip: the dashboard acceptance
 * test must run wherever the suite runs. `HORUS_CHROMIUM` points elsewhere.
 */
export function chromiumPath(): string {
  const path = process.env.HORUS_CHROMIUM ?? '/usr/bin/chromium'
  if (!existsSync(path)) {
    throw new Error(`chromium not found at ${path}: apt-get install -y chromium (or set HORUS_CHROMIUM)`)
  }
  return path
}
