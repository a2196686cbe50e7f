import type { RpcParams } from '../../protocols/rpc/messages.js'
import { parseCommandArgs, stringFlag } from '../args.js'
import { CONNECT_HELP, CONNECT_OPTIONS, withNode } from '../connect.js'
import { UsageError } from '../errors.js'
import type { Output } from '../output.js'

export const RPC_HELP = `Usage: horus rpc <method> [json-params] (--peer MA | --gateway URL) [--timeout MS]

Calls any JSON-RPC method a node serves and prints the result as JSON. Params are a JSON object
(by name) or array (by position). "horus rpc rpc.discover ..." prints the node's OpenRPC document.

${CONNECT_HELP}
  --timeout MS      give up after MS milliseconds (default 30000)`

export async function rpcCommand(argv: string[], out: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('rpc', argv, {
    ...CONNECT_OPTIONS,
    timeout: { type: 'string' },
  })
  const [method, rawParams, extra] = positionals
  if (method === undefined) throw new UsageError(`rpc: missing method\n\n${RPC_HELP}`)
  if (extra !== undefined) throw new UsageError(`rpc: unexpected argument "${extra}" (quote the JSON params)`)
  const params = parseParams(rawParams)
  const timeout = stringFlag(values.timeout)
  const timeoutMs = timeout === undefined ? 30_000 : Number(timeout)
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new UsageError(`rpc: --timeout: expected milliseconds, got "${timeout}"`)
  const result = await withNode(values, (client) => client.call(method, params, { timeoutMs }))
  out.json(result)
  return 0
}

function parseParams(raw: string | undefined): RpcParams | undefined {
  if (raw === undefined) return undefined
  let params: unknown
  try {
    params = JSON.parse(raw)
  } catch (err) {
    throw new UsageError(`rpc: params are not valid JSON: ${(err as Error).message}`)
  }
  if (typeof params !== 'object' || params === null) {
    throw new UsageError('rpc: params must be a JSON object or array')
  }
  return params as RpcParams
}
