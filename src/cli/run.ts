// Process entry for the compiled CLI (bin/lungtumor.js does the same from the package root).
import { exitOnSignals, main } from './main.js';

exitOnSignals();
process.exitCode = await main(process.argv.slice(2));
