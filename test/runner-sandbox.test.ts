import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSandbox,
  OutputTooLargeError,
  type Sandbox,
  ScriptCancelledError,
  ScriptError,
  ScriptMemoryError,
  ScriptResultError,
  ScriptStackOverflowError,
  ScriptTimeoutError,
} from '../src/roles/runner/sandbox/index.js'

let sandbox: Sandbox

beforeAll(async () => {
  sandbox = createSandbox()
  await sandbox.start()
})

afterAll(async () => {
  await sandbox.stop()
})

describe('sandbox: results and marshalling', () => {
  it('returns the value of the last expression, with inputs copied in as JSON', async () => {
    const run = await sandbox.runScript({
      code: 'let data = input.fetch;\nlet total = data.items.reduce((a, b) => a + b, 0);\n({ total, name: env.NAME })',
      globals: { input: { fetch: { items: [1, 2, 3] } }, env: { NAME: 'x' } },
    })
    expect(run.value).toEqual({ total: 6, name: 'x' })
    expect(run.timings.setupMs).toBeGreaterThan(0)
  })

  it('returns undefined when the script ends with a declaration', async () => {
    const run = await sandbox.runScript({ code: 'let x = 1;' })
    expect(run.value).toBeUndefined()
  })

  it('lets host functions look synchronous while the host side is async', async () => {
    const run = await sandbox.runScript({
      code: 'let r = os.exec("echo hi"); let d = double(21); [r.stdout, d]',
      hostFunctions: {
        'os.exec': async ([cmd]) => {
          await new Promise((resolve) => setImmediate(resolve))
          return { stdout: `ran ${String(cmd)}` }
        },
        double: ([n]) => Number(n) * 2,
      },
    })
    expect(run.value).toEqual(['ran echo hi', 42])
  })

  it('turns a host error into a script exception the script can catch, keeping name and code', async () => {
    const fail = Object.assign(new Error('nope'), { name: 'DeniedError', code: 'DENIED' })
    const run = await sandbox.runScript({
      code: 'let out; try { deny() } catch (e) { out = [e.name, e.message, e.code] } out',
      hostFunctions: {
        deny: () => {
          throw fail
        },
      },
    })
    expect(run.value).toEqual(['DeniedError', 'nope', 'DENIED'])
  })

  it('rethrows the original host error when the script lets it escape', async () => {
    class DeniedError extends Error {
      override name = 'DeniedError'
    }
    await expect(
      sandbox.runScript({
        code: 'deny()',
        hostFunctions: {
          deny: async () => {
            throw new DeniedError('not allowed')
          },
        },
      }),
    ).rejects.toBeInstanceOf(DeniedError)
  })

  it('captures console output, cutting long lines and capping the total', async () => {
    const lines: string[] = []
    const run = await sandbox.runScript({
      code: 'console.log("a", 1, {b: 2}); console.warn("w"); console.log("x".repeat(100)); for (let i = 0; i < 100; i++) console.log("line " + i); 1',
      limits: { maxLogLineBytes: 40, maxLogBytes: 400 },
      onLog: (line) => lines.push(line),
    })
    expect(run.logs[0]).toBe('a 1 {"b":2}')
    expect(run.logs[1]).toBe('[warn] w')
    expect(run.logs[2]).toMatch(/^x{21}…\[\+79 bytes cut\]$/)
    expect(Buffer.byteLength(run.logs[2] as string)).toBeLessThanOrEqual(40)
    expect(run.logs.at(-1)).toMatch(/log truncated/)
    expect(lines).toEqual(run.logs)
  })
})

describe('sandbox: errors and limits', () => {
  it('reports a script error with its name, message and line', async () => {
    const err = await sandbox.runScript({ code: 'let a = 1;\nlet b = 2;\nfoo + 1' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ScriptError)
    expect((err as ScriptError).message).toBe("ReferenceError: 'foo' is not defined (line 3)")
    expect((err as ScriptError).line).toBe(3)
    expect((err as ScriptError).code).toBe('SCRIPT_ERROR')
  })

  it('reports syntax errors with their line', async () => {
    const err = await sandbox.runScript({ code: 'let x = 1;\nlet y = ;' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ScriptError)
    expect((err as ScriptError).line).toBe(2)
    expect((err as ScriptError).scriptName).toBe('SyntaxError')
  })

  it('reports thrown non-errors', async () => {
    await expect(sandbox.runScript({ code: 'throw "boom"' })).rejects.toThrow('Uncaught: "boom"')
  })

  it('stops an infinite loop at its CPU limit', async () => {
    const started = Date.now()
    const err = await sandbox
      .runScript({ code: 'while (true) {}', limits: { cpuTimeMs: 200 } })
      .catch((e) => e)
    expect(err).toBeInstanceOf(ScriptTimeoutError)
    expect((err as ScriptTimeoutError).code).toBe('SCRIPT_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('does not let a script catch its way past the CPU limit', async () => {
    const code = 'for (;;) { try { while (true) {} } catch (e) {} }'
    await expect(sandbox.runScript({ code, limits: { cpuTimeMs: 200 } })).rejects.toBeInstanceOf(
      ScriptTimeoutError,
    )
  })

  it('does not charge time spent waiting on host calls to the CPU budget', async () => {
    const run = await sandbox.runScript({
      code: 'wait(); wait(); 1',
      limits: { cpuTimeMs: 100 },
      hostFunctions: { wait: () => new Promise((resolve) => setTimeout(resolve, 120, null)) },
    })
    expect(run.value).toBe(1)
  })

  it('stops at the wall-clock limit while a host call hangs', async () => {
    const err = await sandbox
      .runScript({
        code: 'hang()',
        limits: { wallTimeMs: 200 },
        hostFunctions: {
          hang: (_args, { signal }) =>
            new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        },
      })
      .catch((e) => e)
    expect(err).toBeInstanceOf(ScriptTimeoutError)
  })

  it('is cancelled by its signal, even inside a host call', async () => {
    const controller = new AbortController()
    const run = sandbox.runScript({
      code: 'hang()',
      signal: controller.signal,
      hostFunctions: {
        hang: () => {
          controller.abort()
          return new Promise(() => {})
        },
      },
    })
    await expect(run).rejects.toBeInstanceOf(ScriptCancelledError)
  })

  it('stops memory bombs at the memory limit', async () => {
    for (const code of [
      'let s = "x"; while (true) s = s + s',
      'let a = []; while (true) a.push(new Array(10000).fill(1))',
      'let a = []; while (true) a.push("x".repeat(100000) + a.length)',
      'new ArrayBuffer(1e9)',
    ]) {
      await expect(
        sandbox.runScript({ code, limits: { memoryBytes: 16 * 1024 * 1024 } }),
      ).rejects.toBeInstanceOf(ScriptMemoryError)
    }
  })

  it('stops deep recursion at the stack limit, including host calls made at the limit', async () => {
    await expect(
      sandbox.runScript({ code: 'function f(n) { return f(n + 1) + 1 }\nf(0)' }),
    ).rejects.toBeInstanceOf(ScriptStackOverflowError)
    const run = await sandbox.runScript({
      code: 'let depth = 0; function d(n) { depth = n; try { return 1 + d(n + 1) } catch (e) { return ping() } }\nd(0); depth',
      hostFunctions: { ping: async () => 'pong' },
    })
    expect(run.value).toBeGreaterThan(100)
  })

  it('stops recursion inside built-ins at the stack limit', async () => {
    for (const code of [
      'let a = []; for (let i = 0; i < 1e5; i++) a = [a]\nString(a).length',
      'JSON.parse("[".repeat(1e5) + "]".repeat(1e5))',
    ]) {
      await expect(sandbox.runScript({ code })).rejects.toBeInstanceOf(ScriptStackOverflowError)
    }
  })

  it('terminates a worker stuck in a long built-in call at the wall-clock limit, then keeps serving', async () => {
    // QuickJS's JSON.stringify is quadratic in nesting depth and checks no interrupt while it runs.
    const code =
      'let o = {}; let c = o; for (let i = 0; i < 1e5; i++) { c.a = {}; c = c.a }\nJSON.stringify(o).length'
    const started = Date.now()
    await expect(sandbox.runScript({ code, limits: { wallTimeMs: 300 } })).rejects.toBeInstanceOf(
      ScriptTimeoutError,
    )
    expect(Date.now() - started).toBeLessThan(5_000)
    expect((await sandbox.runScript({ code: '1 + 1' })).value).toBe(2)
  })

  it('refuses an oversized result', async () => {
    const err = await sandbox
      .runScript({ code: '"x".repeat(2000)', limits: { maxOutputBytes: 1000 } })
      .catch((e) => e)
    expect(err).toBeInstanceOf(OutputTooLargeError)
  })

  it('refuses a Promise result', async () => {
    await expect(sandbox.runScript({ code: 'Promise.resolve(1)' })).rejects.toBeInstanceOf(ScriptResultError)
  })

  it('exposes no host globals and cannot escape through constructors', async () => {
    const run = await sandbox.runScript({
      code: `[typeof process, typeof require, typeof module, typeof globalThis.process, typeof fetch, typeof setTimeout,
        (() => { try { return this.constructor.constructor('return typeof process')() } catch (e) { return 'threw ' + e.name } })(),
        Object.getOwnPropertyNames(globalThis).filter((k) => /process|require|import|std|os/.test(k)).join(',')]`,
    })
    expect(run.value).toEqual([
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      'undefined',
      '',
    ])
    const err = await sandbox
      .runScript({ code: "this.constructor.constructor('return process')()" })
      .catch((e) => e)
    expect(err).toBeInstanceOf(ScriptError)
    expect((err as Error).message).toMatch(/ReferenceError: 'process' is not defined/)
  })

  it('leaks no state between runs', async () => {
    await sandbox.runScript({ code: 'globalThis.leak = 42; Object.prototype.polluted = true; 1' })
    const run = await sandbox.runScript({ code: '[typeof leak, ({}).polluted === undefined]' })
    expect(run.value).toEqual(['undefined', true])
  })
})
