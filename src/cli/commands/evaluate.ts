import type { Command } from '../command.js';
import { parseCommandArgs } from '../command.js';

export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: '(not yet implemented)',
  usage: 'usage: lungtumor evaluate',
  async run(args) {
    if (!parseCommandArgs(evaluateCommand, args, {})) return 0;
    process.stderr.write('lungtumor evaluate: not yet implemented\n');
    return 1;
  },
};
