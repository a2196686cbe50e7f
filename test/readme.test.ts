/**
 * The README's code runs as written. Fenced blocks are taken by their language: `ts` blocks are
 * programs (types stripped by esbuild, run with node from inside this package so `horus-mesh`
 * imports resolve to the build); `sh` blocks run in bash with `horus` meaning the built CLI; `js`
 * blocks are runner plugins, loaded as a node loads them; `yaml` blocks must parse. Blocks without
 * a language (synopses, diagrams) are not run.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { transform } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { resolveConfig } from '../src/node/config/load.js'
import { loadRunnerPlugins } from '../src/roles/runner/service/plugins.js'
import { CLI, runProcess } from './helpers/cli.js'

const ROOT = join(import.meta.dirname, '..')
/** Inside the package (ignored by git), so `import 'horus-mesh'` resolves through its `exports`. */
const ARTIFACTS = join(ROOT, 'test-artifacts', 'readme')

interface Block {
  lang: string
  code: string
  /** 1-based line of the opening fence, for failure messages. */
  line: number
}

function blocks(markdown: string): Block[] {
  const out: Block[] = []
  for (const match of markdown.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)) {
    const [, indent = '', lang = '', body = ''] = match
    const code = body
      .split('\n')
      .map((l) => l.slice(indent.length))
      .join('\n')
    out.push({ lang, code, line: markdown.slice(0, match.index).split('\n').length })
  }
  return out
}

const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
const all = blocks(readme)
const of = (lang: string): Block[] => all.filter((b) => b.lang === lang)

const temps: string[] = []
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })))
})

describe('README code blocks', () => {
  it('has runnable blocks of every kind it promises', () => {
    expect(of('ts').length).toBeGreaterThan(0)
    expect(of('sh').length).toBeGreaterThan(0)
    expect(of('js').length).toBeGreaterThan(0)
    const langs = new Set(all.map((b) => b.lang))
    // A block in another language would silently go untested.
    expect([...langs].filter((l) => !['', 'ts', 'sh', 'js', 'yaml'].includes(l))).toEqual([])
  })

  it.each(of('ts').map((b) => [b.line, b] as const))(
    'the TypeScript program at line %i runs',
    async (_line, block) => {
      await mkdir(ARTIFACTS, { recursive: true })
      const { code } = await transform(block.code, { loader: 'ts', format: 'esm', target: 'node20' })
      const file = join(ARTIFACTS, `readme-${block.line}.mjs`)
      await writeFile(file, `import '../../dist/src/node/polyfills.js'\n${code}`)
      const result = await runProcess(process.execPath, [file], { cwd: ROOT, timeoutMs: 90_000 })
      const output = `${result.stdout}${result.stderr}`
      expect(output).not.toMatch(/Error/)
      expect(result.code, output).toBe(0)
    },
    120_000,
  )

  it.each(of('sh').map((b) => [b.line, b] as const))(
    'the shell commands at line %i run',
    async (_line, block) => {
      const cwd = await mkdtemp(join(tmpdir(), 'horus-readme-'))
      temps.push(cwd)
      // `horus` is an executable that becomes the CLI's node process (exec), as an npm-linked
      // binary is: `$!` of `horus node start … &` is then the node itself.
      await mkdir(join(cwd, 'bin'))
      await writeFile(
        join(cwd, 'bin', 'horus'),
        `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`,
        {
          mode: 0o755,
        },
      )
      const script = `set -euo pipefail\nexport PATH=${JSON.stringify(join(cwd, 'bin'))}:"$PATH"\n${block.code}`
      const result = await runProcess('bash', ['-c', script], { cwd, timeoutMs: 90_000 })
      expect(result.code, `${result.stdout}${result.stderr}`).toBe(0)
    },
    120_000,
  )

  it.each(of('js').map((b) => [b.line, b] as const))(
    'the plugin at line %i loads as a node loads it',
    async (_line, block) => {
      const dir = await mkdtemp(join(tmpdir(), 'horus-readme-plugin-'))
      temps.push(dir)
      const file = join(dir, 'plugin.js')
      await writeFile(file, block.code)
      const plugin = await loadRunnerPlugins([file])
      expect(Object.keys(plugin.functions).length + Object.keys(plugin.kinds).length).toBeGreaterThan(0)
      // The seed pipeline's function, when the plugin gives it, answers the data the SDK example uses.
      const processData = plugin.functions.process_data
      if (processData !== undefined) {
        expect(
          await processData({
            readings: [
              { sensor: 'a', value: 3 },
              { sensor: 'b', value: 4 },
            ],
          }),
        ).toEqual({
          count: 2,
          total: 7,
        })
      }
    },
  )

  it('has YAML blocks that parse', () => {
    for (const block of of('yaml')) expect(() => parseYaml(block.code), `line ${block.line}`).not.toThrow()
  })

  it('has node configs (`# horus node config`) that a node accepts as written', async () => {
    const configs = of('yaml').filter((b) => b.code.startsWith('# horus node config\n'))
    expect(configs.length).toBeGreaterThan(0)
    // Placeholder peer IDs (`12D3KooWPublicRelay`) become real ones, the same name the same ID.
    const ids = new Map<string, string>()
    for (const block of configs) {
      for (const name of new Set(block.code.match(/12D3KooW[A-Za-z]+\b/g) ?? []))
        if (!ids.has(name)) ids.set(name, peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
      const code = block.code.replace(/12D3KooW[A-Za-z]+\b/g, (name) => ids.get(name) as string)
      expect(
        () => resolveConfig(parseYaml(code) as Record<string, unknown>),
        `line ${block.line}`,
      ).not.toThrow()
    }
  })
})
