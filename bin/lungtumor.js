#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript, built by `npm ci` through the `prepare` script.
import '../dist/src/cli/run.js';
