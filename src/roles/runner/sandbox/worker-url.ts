/**
 * Where the sandbox worker's entry point is. Built code runs `sandbox-worker.js` beside this file.
 * When running from TypeScript sources (vitest, which transforms files in-process but not in worker
 * threads), the entry is bundled once per process with esbuild — a development dependency present
 * with vitest — into `node_modules/.cache/horus/`, where its bare imports still resolve.
 */

import { createHash } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

let resolved: Promise<URL> | undefined

export function sandboxWorkerUrl(): Promise<URL> {
  resolved ??= import.meta.url.endsWith('.ts')
    ? bundleFromSources()
    : Promise.resolve(new URL('./sandbox-worker.js', import.meta.url))
  return resolved
}

async function bundleFromSources(): Promise<URL> {
  const entry = fileURLToPath(new URL('./sandbox-worker.ts', import.meta.url))
  const root = packageRoot(entry)
  const outDir = join(root, 'node_modules', '.cache', 'horus')
  await mkdir(outDir, { recursive: true })
  const { build } = await import('esbuild')
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  })
  const output = result.outputFiles[0]
  if (output === undefined) throw new Error('esbuild produced no sandbox worker bundle')
  // Named by content, so every process running the same sources shares one file; written under a
  // per-process name and renamed, so a parallel process never reads a partial file.
  const hash = createHash('sha256').update(output.contents).digest('hex').slice(0, 16)
  const file = join(outDir, `sandbox-worker.${hash}.mjs`)
  await writeFile(`${file}.${process.pid}.tmp`, output.contents)
  await rename(`${file}.${process.pid}.tmp`, file)
  return pathToFileURL(file)
}

function packageRoot(from: string): string {
  // src/roles/runner/sandbox/ → the repository root
  return dirname(dirname(dirname(dirname(dirname(from)))))
}
