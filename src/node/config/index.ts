export type { ConfigSources, RawConfig } from './load.js'
export { configFromEnv, loadConfig, mergeLayers, readConfigFile, resolveConfig } from './load.js'
export type { GatewayConfig, NodeConfig, NodeConfigInput, Role } from './types.js'
