import '../src/node/polyfills.js'
