export { DhtAdvertiser } from './advertiser.js'
export { findProviders } from './find.js'
export { capabilityCid, roleCid } from './keys.js'
