// natsbridge, CommonJS entry: the API of index.d.ts, with apache-arrow tables
// read and written by apache-arrow's CommonJS build (what `require` gives).
'use strict'

module.exports = require('./binding.js').createApi(require('apache-arrow'))
