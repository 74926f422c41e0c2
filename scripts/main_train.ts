// The challenge's training entry point: the same as `lungtumor train …`.
// Usage: npm run main_train -- --data DIR [--data DIR] --model DIR --seed N [--config fast|default]
import { exitOnSignals, main } from '../src/cli/main.js';

exitOnSignals();
process.exitCode = await main(['train', ...process.argv.slice(2)]);
