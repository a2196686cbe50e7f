import { inject } from 'vitest'

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
 * The Chromium the browser project's global set-up found or installed (`test/browser-setup.ts`).
 * Missing is a failure, not a skip: the dashboard acceptance test runs wherever the suite runs.
 */
export function chromiumPath(): string {
  return inject('chromium')
}
