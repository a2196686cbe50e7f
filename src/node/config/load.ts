import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../../core/errors.js'
import { CAPABILITY_PATTERN } from '../../protocols/jobs/constants.js'
import { TRUST_ROLES } from '../../protocols/jobs/trust-policy.js'
import {
  DEFAULT_DATA_DIR_NAME,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
} from '../constants.js'
import { readTelemetry } from '../telemetry/config.js'
import { readRelay } from './relay.js'
import { checkSections } from './sections.js'
import type { GatewayConfig, GatewayGrant, NodeConfig } from './types.js'
import {
  ConfigIssues,
  describe,
  readBoolean,
  readHostPort,
  readMultiaddrs,
  readPositiveInt,
  readRoles,
  readString,
} from './validate.js'

/** Sections that belong to later layers; validated here (`sections.ts`) and handed to them as given. */
const EXTRA_SECTIONS = ['trust', 'runner', 'supervisor', 'coordinator', 'triggers', 'blobs'] as const

const NODE_KEYS = [
  'dataDir',
  'listen',
  'announce',
  'bootstrap',
  'roles',
  'mdns',
  'swarmKey',
  'maxConnections',
  'dialTimeoutMs',
  'gateway',
  'relay',
  'telemetry',
] as const

/** `HORUS_*` environment variables and the config key each sets. */
const ENV_KEYS: Record<string, string> = {
  HORUS_DATA_DIR: 'dataDir',
  HORUS_LISTEN: 'listen',
  HORUS_ANNOUNCE: 'announce',
  HORUS_BOOTSTRAP: 'bootstrap',
  HORUS_ROLES: 'roles',
  HORUS_MDNS: 'mdns',
  HORUS_SWARM_KEY: 'swarmKey',
  HORUS_MAX_CONNECTIONS: 'maxConnections',
  HORUS_DIAL_TIMEOUT_MS: 'dialTimeoutMs',
  HORUS_GATEWAY: 'gateway.listen',
  HORUS_GATEWAY_TOKEN: 'gateway.token',
  HORUS_RELAY_SERVICE: 'relay.service',
  HORUS_RELAY_PEERS: 'relay.peers',
}

export type RawConfig = Record<string, unknown>

/** Where each layer came from, for messages. */
export interface ConfigSources {
  /** Path of a YAML file (lowest precedence). */
  file?: string
  /** Environment to read `HORUS_*` from (middle precedence). */
  env?: Record<string, string | undefined>
  /** Values from CLI flags or code (highest precedence). */
  overrides?: RawConfig
}

/**
 * Reads the YAML file, then `HORUS_*` variables, then overrides, and validates the result. Relative
 * paths in the file (`dataDir`, `swarmKey`, `runner.workDir`, `runner.plugins`) are relative to the
 * file's directory, so a config works from any working directory.
 */
export async function loadConfig(sources: ConfigSources): Promise<NodeConfig> {
  const fromFile =
    sources.file === undefined
      ? {}
      : relativeToFile(await readConfigFile(sources.file), dirname(resolve(sources.file)))
  const fromEnv = sources.env === undefined ? {} : configFromEnv(sources.env)
  const merged = mergeLayers([fromFile, fromEnv, sources.overrides ?? {}])
  return resolveConfig(merged, sources.file)
}

export async function readConfigFile(file: string): Promise<RawConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new ConfigError([`${file}: cannot read config file (${(err as NodeJS.ErrnoException).code})`])
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    throw new ConfigError([`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`])
  }
  if (doc === null || doc === undefined) return {}
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError([`${file}: expected a mapping of settings at the top level`])
  }
  return doc as RawConfig
}

/** The file's relative paths made absolute against `dir`; values of the wrong type are left to validation. */
function relativeToFile(raw: RawConfig, dir: string): RawConfig {
  const absolute = (value: unknown): unknown =>
    typeof value === 'string' && value !== '' && !isAbsolute(value) ? resolve(dir, value) : value
  const out: RawConfig = { ...raw }
  for (const key of ['dataDir', 'swarmKey'] as const) if (key in raw) out[key] = absolute(raw[key])
  if (isRecord(raw.runner)) {
    const runner: RawConfig = { ...raw.runner }
    if ('workDir' in runner) runner.workDir = absolute(runner.workDir)
    if (Array.isArray(runner.plugins)) runner.plugins = runner.plugins.map(absolute)
    out.runner = runner
  }
  return out
}

export function configFromEnv(env: Record<string, string | undefined>): RawConfig {
  const out: RawConfig = {}
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name]
    if (value === undefined || value === '') continue
    const [head, tail] = key.split('.') as [string, string | undefined]
    if (tail === undefined) out[head] = value
    else out[head] = { ...((out[head] as RawConfig | undefined) ?? {}), [tail]: value }
  }
  return out
}

/** Sections whose fields merge one by one across layers (a flag sets one field, the file the rest). */
const MERGED_SECTIONS = ['gateway', 'relay']

/** Later layers win per key; the `gateway` and `relay` sections merge field by field. */
export function mergeLayers(layers: RawConfig[]): RawConfig {
  const out: RawConfig = {}
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue
      const prev = out[key]
      out[key] =
        MERGED_SECTIONS.includes(key) && isRecord(prev) && isRecord(value)
          ? mergeSection(prev, value)
          : (value as unknown)
    }
  }
  return out
}

/** `--relay-service` (service: true) turns on the relay the file configures; it does not reset it. */
function mergeSection(prev: RawConfig, value: RawConfig): RawConfig {
  const merged = { ...prev, ...value }
  const on = value.service === true || value.service === 'true' || value.service === '1'
  if (on && isRecord(prev.service)) merged.service = prev.service
  return merged
}

/** Validates a merged raw config and applies every default once. */
export function resolveConfig(raw: RawConfig, file?: string): NodeConfig {
  const issues = new ConfigIssues()
  for (const key of Object.keys(raw)) {
    const known =
      (NODE_KEYS as readonly string[]).includes(key) || (EXTRA_SECTIONS as readonly string[]).includes(key)
    if (!known) issues.add(key, `unknown setting (known: ${[...NODE_KEYS, ...EXTRA_SECTIONS].join(', ')})`)
  }
  const dataDir = readString(raw.dataDir, 'dataDir', issues)
  const listen = readMultiaddrs(raw.listen, 'listen', issues)
  const announce = readMultiaddrs(raw.announce, 'announce', issues)
  const bootstrap = readMultiaddrs(raw.bootstrap, 'bootstrap', issues, { requirePeerId: true })
  const roles = readRoles(raw.roles, 'roles', issues)
  const mdns = readBoolean(raw.mdns, 'mdns', issues)
  const swarmKeyFile = readString(raw.swarmKey, 'swarmKey', issues)
  const maxConnections = readPositiveInt(raw.maxConnections, 'maxConnections', issues)
  const dialTimeoutMs = readPositiveInt(raw.dialTimeoutMs, 'dialTimeoutMs', issues)
  const gateway = readGateway(raw.gateway, issues)
  const relay = readRelay(raw.relay, issues)
  const telemetry = readTelemetry(raw.telemetry, issues)
  if (Array.isArray(raw.listen) && raw.listen.length === 0)
    issues.add('listen', 'expected at least one address')
  checkSections(raw, issues)
  issues.throwIfAny()

  const extra: Record<string, unknown> = {}
  for (const section of EXTRA_SECTIONS) if (raw[section] !== undefined) extra[section] = raw[section]

  const config: NodeConfig = {
    dataDir: resolve(dataDir ?? resolve(homedir(), DEFAULT_DATA_DIR_NAME)),
    listen: listen ?? [...DEFAULT_LISTEN],
    announce: announce ?? [],
    bootstrap: bootstrap ?? [],
    roles: roles ?? [],
    mdns: mdns ?? false,
    maxConnections: maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    dialTimeoutMs: dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    relay,
    extra,
  }
  if (swarmKeyFile !== undefined) config.swarmKeyFile = resolve(swarmKeyFile)
  if (gateway !== undefined) config.gateway = gateway
  if (telemetry?.tracing !== undefined) config.telemetry = telemetry
  if (file !== undefined) config.file = resolve(file)
  return config
}

function readGateway(value: unknown, issues: ConfigIssues): GatewayConfig | undefined {
  if (value === undefined) return undefined
  const section = typeof value === 'string' ? { listen: value } : value
  if (!isRecord(section)) {
    issues.add('gateway', 'expected host:port or a mapping with listen and token')
    return undefined
  }
  for (const key of Object.keys(section)) {
    if (key !== 'listen' && key !== 'token' && key !== 'grant')
      issues.add(`gateway.${key}`, 'unknown setting (known: listen, token, grant)')
  }
  const listen = readHostPort(section.listen, 'gateway.listen', issues)
  const token = readString(section.token, 'gateway.token', issues)
  const grant = readGrant(section.grant, 'gateway.grant', issues)
  if (listen === undefined) {
    if (section.listen === undefined) issues.add('gateway.listen', 'required when a gateway is configured')
    return undefined
  }
  return {
    listen,
    ...(token === undefined ? {} : { token }),
    ...(grant === undefined ? {} : { grant }),
  }
}

/** `{ roles: [...], capabilities: [...] }`: trust roles (at least one) and capability names or `*`. */
function readGrant(value: unknown, path: string, issues: ConfigIssues): GatewayGrant | undefined {
  if (value === undefined) return undefined
  if (!isRecord(value)) {
    issues.add(path, `expected a mapping with roles and capabilities, got ${describe(value)}`)
    return undefined
  }
  for (const key of Object.keys(value)) {
    if (key !== 'roles' && key !== 'capabilities')
      issues.add(`${path}.${key}`, 'unknown setting (known: roles, capabilities)')
  }
  if (value.roles === undefined) issues.add(`${path}.roles`, 'required in a grant')
  const roles =
    value.roles === undefined
      ? undefined
      : readList(value.roles, `${path}.roles`, issues, (role) =>
          (TRUST_ROLES as readonly string[]).includes(role)
            ? undefined
            : `expected one of ${TRUST_ROLES.join(', ')}`,
        )
  if (roles?.length === 0) issues.add(`${path}.roles`, 'expected at least one role')
  const capabilities = readList(value.capabilities ?? [], `${path}.capabilities`, issues, (capability) =>
    capability === '*' || CAPABILITY_PATTERN.test(capability)
      ? undefined
      : `expected a capability name matching ${CAPABILITY_PATTERN} or "*"`,
  )
  if (roles === undefined || roles.length === 0 || capabilities === undefined) return undefined
  return { roles, capabilities }
}

function readList(
  value: unknown,
  path: string,
  issues: ConfigIssues,
  problem: (item: string) => string | undefined,
): string[] | undefined {
  if (!Array.isArray(value)) {
    issues.add(path, `expected a list, got ${describe(value)}`)
    return undefined
  }
  const before = issues.list.length
  value.forEach((item: unknown, i) => {
    const why = typeof item === 'string' ? problem(item) : 'expected a string'
    if (why !== undefined) issues.add(`${path}[${i}]`, `${why}, got ${describe(item)}`)
  })
  return issues.list.length === before ? (value as string[]) : undefined
}

function isRecord(value: unknown): value is RawConfig {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
