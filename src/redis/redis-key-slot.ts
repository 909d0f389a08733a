/** CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with, a byte at a time. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

/** How many hash slots a Redis Cluster has. */
export const CLUSTER_SLOTS = 16384;

/**
 * The hash slot of a key or sharded channel in a Redis Cluster: CRC16 of its bytes modulo
 * 16384, or of its hash tag's alone when it has one (the text between the first `{` and the
 * first `}` after it, if not empty), so that keys sharing a tag share a slot.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff];
  return crc % CLUSTER_SLOTS;
}
