// Node's Buffer for the browser bundle: the NIfTI code reads and writes headers with it.
export { Buffer } from 'buffer';
