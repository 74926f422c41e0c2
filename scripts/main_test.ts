// The challenge's inference entry point: the same as `lungtumor predict …`.
// Usage: npm run main_test -- --model DIR --input DIR|FILE --out DIR [--submission FILE.csv]
import { main } from '../src/cli/main.js';

process.exitCode = await main(['predict', ...process.argv.slice(2)]);
