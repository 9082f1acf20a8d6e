// natsbridge, ES module entry: the API of index.d.ts, with apache-arrow tables
// read and written by apache-arrow's ES module build (what `import` gives).
import { createRequire } from 'node:module'
import * as arrow from 'apache-arrow'

const { createApi } = createRequire(import.meta.url)('./binding.js')

export const {
  smartsend,
  smartreceive,
  Bridge,
  Subscription,
  DurableSubscription,
  JetStreamMessage,
  errorKinds,
  version,
} = createApi(arrow)
