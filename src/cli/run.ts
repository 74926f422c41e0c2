// Process entry for the compiled CLI (bin/lungtumor.js does the same from the package root).
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
