// The challenge's inference entry point: the same as `lungtumor predict …`.
// Usage: npm run main_test -- --model DIR --input DIR|FILE --out DIR [--submission FILE.csv]
import { exitOnSignals, main } from '../src/cli/main.js';

exitOnSignals();
process.exitCode = await main(['predict', ...process.argv.slice(2)]);
