import type { Command } from '../command.js';
import { parseCommandArgs } from '../command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: '(not yet implemented)',
  usage: 'usage: lungtumor demo',
  async run(args) {
    if (!parseCommandArgs(demoCommand, args, {})) return 0;
    process.stderr.write('lungtumor demo: not yet implemented\n');
    return 1;
  },
};
