#!/usr/bin/env node
// Entry point of the `tsvlm` command (the TypeScript sources compile to dist/).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
