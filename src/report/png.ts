/**
 * A minimal PNG codec: the encoder writes 8-bit RGB images (the report's slices); the decoder reads
 * the 8-bit RGB / RGBA PNGs that the encoder and Chromium's screenshots produce (for checks and for
 * cropping a screenshot). Compression is node:zlib, so no package is needed.
 *
 * PNG layout: 8-byte signature, then chunks of [length][type][data][CRC32 of type + data].
 * An image is IHDR (size, bit depth, colour type), IDAT (zlib stream of rows, each prefixed by a
 * filter byte) and IEND.
 */
import { deflateSync, inflateSync } from 'node:zlib';

/** An 8-bit RGB raster, rows top to bottom, 3 bytes a pixel. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const COLOUR_RGB = 2;
const COLOUR_RGBA = 6;

/** A blank (black) image. */
export function blankImage(width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`blankImage: bad size ${width}x${height}`);
  }
  return { width, height, rgb: new Uint8Array(width * height * 3) };
}

/**
 * CRC-32 (ISO 3309, as PNG uses it), bit by bit: the report encodes a few images, so the
 * 256-entry table (module state) is not worth having.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes an RGB image as PNG (8-bit truecolour, filter 0 on every row, zlib level 9). */
export function encodePng(img: RgbImage): Uint8Array {
  const { width, height, rgb } = img;
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes for ${width}x${height} RGB`);
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8; // bits per channel
  ihdr[9] = COLOUR_RGB;
  // ihdr[10..12]: compression 0 (deflate), filter method 0, no interlace.
  const stride = width * 3;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const idat = deflateSync(raw, { level: 9 });
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes an 8-bit, non-interlaced RGB or RGBA PNG to RGB (alpha dropped), checking every CRC.
 * Throws on anything else: this reads our own images and browser screenshots, not arbitrary PNGs.
 */
export function decodePng(bytes: Uint8Array): RgbImage {
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) throw new Error('decodePng: not a PNG (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let o = 8;
  let ended = false;
  while (o + 12 <= bytes.length && !ended) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (o + 12 + len > bytes.length) throw new Error(`decodePng: chunk ${type} runs past the end`);
    const data = bytes.subarray(o + 8, o + 8 + len);
    if (crc32(bytes.subarray(o + 4, o + 8 + len)) !== view.getUint32(o + 8 + len)) throw new Error(`decodePng: bad CRC in ${type}`);
    if (type === 'IHDR') {
      const h = new DataView(data.buffer, data.byteOffset, data.byteLength);
      width = h.getUint32(0);
      height = h.getUint32(4);
      const depth = data[8];
      const colour = data[9];
      if (depth !== 8 || (colour !== COLOUR_RGB && colour !== COLOUR_RGBA) || data[12] !== 0) {
        throw new Error(`decodePng: only 8-bit non-interlaced RGB/RGBA is read (depth ${depth}, colour ${colour}, interlace ${data[12]})`);
      }
      channels = colour === COLOUR_RGB ? 3 : 4;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    }
    o += 12 + len;
  }
  if (channels === 0 || !ended) throw new Error('decodePng: missing IHDR or IEND');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== (stride + 1) * height) throw new Error(`decodePng: ${raw.length} bytes of pixel data for ${width}x${height}`);
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? px.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels]! : 0;
      const b = up[i]!;
      const c = i >= channels ? up[i - channels]! : 0;
      let pred: number;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new Error(`decodePng: unknown filter ${filter} on row ${y}`);
      }
      row[i] = (src[i]! + pred) & 0xff;
    }
  }
  if (channels === 3) return { width, height, rgb: px };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < px.length; i += 4, j += 3) {
    rgb[j] = px[i]!;
    rgb[j + 1] = px[i + 1]!;
    rgb[j + 2] = px[i + 2]!;
  }
  return { width, height, rgb };
}

/** The part of an image inside [x0, x0 + width) × [y0, y0 + height) (clipped to the image). */
export function cropImage(img: RgbImage, x0: number, y0: number, width: number, height: number): RgbImage {
  const x1 = Math.min(img.width, x0 + width);
  const y1 = Math.min(img.height, y0 + height);
  const xs = Math.max(0, x0);
  const ys = Math.max(0, y0);
  const out = blankImage(Math.max(1, x1 - xs), Math.max(1, y1 - ys));
  for (let y = ys; y < y1; y++) {
    out.rgb.set(img.rgb.subarray((y * img.width + xs) * 3, (y * img.width + x1) * 3), (y - ys) * out.width * 3);
  }
  return out;
}
