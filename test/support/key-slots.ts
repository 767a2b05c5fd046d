// Which hash slot a key falls in (CRC16/XMODEM of the key or its {hash tag}, mod 16384, as
// Redis Cluster computes it), and hash tags that land in a chosen slot, so a test can put
// keys exactly where a migration will move them.
import { SLOT_COUNT } from './cluster-view.js';

const crcTable = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ crcTable[((crc >> 8) ^ byte) & 0xff];
  return crc;
}

/** The slot of `key`, honouring a non-empty {hash tag}. */
export function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % SLOT_COUNT;
}

let tagsBySlot: string[] | undefined;

/** A short hash tag (without braces) whose keys fall in `slot`: `{tag}` in a key name pins it there. */
export function tagForSlot(slot: number): string {
  if (!tagsBySlot) {
    const tags: string[] = [];
    let found = 0;
    for (let index = 0; found < SLOT_COUNT; index++) {
      const tag = `t${index}`;
      const tagSlot = slotOf(tag);
      if (tags[tagSlot] === undefined) {
        tags[tagSlot] = tag;
        found++;
      }
    }
    tagsBySlot = tags;
  }
  return tagsBySlot[slot];
}
