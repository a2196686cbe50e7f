import { describe, expect, it } from 'vitest'
import { HELP } from '../src/cli/main.js'
import { horus } from './cli-capture.js'

const COMMANDS = ['demo', 'key', 'node', 'mesh', 'rpc', 'workflow', 'job', 'trust']

describe('horus --help', () => {
  it('lists every command, and each command answers --help with its usage', async () => {
    const top = await horus(['--help'])
    expect(top.code).toBe(0)
    for (const name of COMMANDS) {
      expect(HELP).toMatch(new RegExp(`^  ${name} `, 'm'))
      const help = await horus([name, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain(`horus ${name}`)
    }
    expect((await horus(['nope'])).code).toBe(2)
  })

  it('documents every workflow and job subcommand it dispatches', async () => {
    const workflow = (await horus(['workflow', '--help'])).stdout
    for (const sub of [
      'submit FILE',
      'status RUN_ID',
      'logs RUN_ID',
      'list',
      'cancel RUN_ID',
      'pause RUN_ID',
      'resume RUN_ID',
    ]) {
      expect(workflow).toContain(`  ${sub}`)
    }
    for (const flag of ['--input', '--secret', '--wait', '--peer', '--gateway', '--json'])
      expect(workflow).toContain(flag)
    const job = (await horus(['job', '--help'])).stdout
    for (const sub of [
      'create --runner',
      'list [--status S] [--limit N]',
      'status JOB_ID',
      'result JOB_ID',
      'logs JOB_ID',
      'cancel JOB_ID',
    ]) {
      expect(job).toContain(`  ${sub}`)
    }
    const node = (await horus(['node', '--help'])).stdout
    for (const usage of ['horus node start [options]', 'horus node status (--peer MA | --gateway URL)'])
      expect(node).toContain(usage)
    expect((await horus(['mesh', '--help'])).stdout).toContain('runners')
    const unknown = await horus(['workflow', 'frobnicate', '--gateway', 'http://127.0.0.1:1'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown subcommand "frobnicate"')
  })
})
