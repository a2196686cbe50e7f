/**
 * Finding the dashboard's static files. They live in `src/gateway-dashboard/assets/` and are not
 * compiled, so from the build output (`dist/src/gateway-dashboard/`) they are found in the source
 * tree beside it — unless a build step copied them next to the compiled module, which wins.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { DAGRE_BUNDLE } from './constants.js'
import { DashboardAssetsMissingError } from './errors.js'

export function findAssetsDir(): string {
  const candidates = [
    fileURLToPath(new URL('./assets/', import.meta.url)),
    fileURLToPath(new URL('../../../src/gateway-dashboard/assets/', import.meta.url)),
  ]
  const found = candidates.find((dir) => existsSync(`${dir}index.html`))
  if (found === undefined) throw new DashboardAssetsMissingError(candidates)
  return found
}

export function findDagreBundle(): string {
  const path = createRequire(import.meta.url).resolve(DAGRE_BUNDLE)
  if (!existsSync(path)) throw new DashboardAssetsMissingError([path])
  return path
}
