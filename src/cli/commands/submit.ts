import type { Command } from '../command.js';
import { parseCommandArgs } from '../command.js';

export const submitCommand: Command = {
  name: 'submit',
  summary: '(not yet implemented)',
  usage: 'usage: lungtumor submit',
  async run(args) {
    if (!parseCommandArgs(submitCommand, args, {})) return 0;
    process.stderr.write('lungtumor submit: not yet implemented\n');
    return 1;
  },
};
