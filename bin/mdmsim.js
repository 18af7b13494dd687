#!/usr/bin/env node
'use strict';
require('../dist/lab/cli.js').main(process.argv.slice(2));
