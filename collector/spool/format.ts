import { crc32 } from "node:zlib";

/**
 * On-disk format of one spool file (one future S3 object):
 *
 *   "CKSPOOL1"                                  8-byte magic
 *   repeated record:
 *     u32le payload length | u32le crc32(payload) | u32le span count | payload
 *
 * The payload is a protobuf ExportTraceServiceRequest, so the records of a
 * file concatenated are themselves one valid request (repeated field 1), which
 * is exactly the otlp_proto object body. A kill -9 can leave a torn last
 * record; the length and checksum find it, and it is dropped on recovery: it
 * was never acknowledged, because acknowledgement waits for fsync.
 *
 * File names carry the batch's sequence number and, once an upload was
 * attempted, the object key's parts (upload time, unique part), so a restart
 * knows which key may already hold the batch:
 *
 *   batch-<seq:12>.spool                       never attempted
 *   batch-<seq:12>_<uploadMs>_<unique>.spool   attempted under that key
 */

export const SPOOL_MAGIC = Buffer.from("CKSPOOL1", "latin1");
export const RECORD_HEADER_BYTES = 12;

/** The 12-byte header of a record (the payload follows it). */
export function encodeRecordHeader(payload: Uint8Array, spans: number): Buffer {
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  header.writeUInt32LE(spans, 8);
  return header;
}

export function encodeRecord(payload: Uint8Array, spans: number): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  record.writeUInt32LE(spans, 8);
  record.set(payload, RECORD_HEADER_BYTES);
  return record;
}

export interface SpoolRecord {
  payload: Buffer;
  spans: number;
}

export interface ParsedSpoolFile {
  records: SpoolRecord[];
  /** Bytes from the start of the file up to the end of the last intact record. */
  validBytes: number;
  /** Bytes after that (a torn record); 0 for a clean file. */
  tornBytes: number;
  /** False when the file does not start with the magic (not a spool file, or torn before it was written). */
  hasMagic: boolean;
}

export function parseSpoolFile(contents: Buffer): ParsedSpoolFile {
  if (contents.length < SPOOL_MAGIC.length || !contents.subarray(0, SPOOL_MAGIC.length).equals(SPOOL_MAGIC)) {
    return { records: [], validBytes: 0, tornBytes: contents.length, hasMagic: false };
  }
  const records: SpoolRecord[] = [];
  let offset = SPOOL_MAGIC.length;
  while (offset + RECORD_HEADER_BYTES <= contents.length) {
    const length = contents.readUInt32LE(offset);
    const checksum = contents.readUInt32LE(offset + 4);
    const spans = contents.readUInt32LE(offset + 8);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > contents.length) break;
    const payload = contents.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== checksum) break;
    records.push({ payload, spans });
    offset = end;
  }
  return { records, validBytes: offset, tornBytes: contents.length - offset, hasMagic: true };
}

export interface SpoolFileName {
  seq: number;
  uploadMs?: number;
  unique?: string;
}

const NAME = /^batch-(\d{12})(?:_(\d{1,15})_([0-9A-Za-z-]{1,64}))?\.spool$/;

export function spoolFileName(name: SpoolFileName): string {
  const seq = String(name.seq).padStart(12, "0");
  return name.uploadMs !== undefined && name.unique !== undefined
    ? `batch-${seq}_${name.uploadMs}_${name.unique}.spool`
    : `batch-${seq}.spool`;
}

export function parseSpoolFileName(fileName: string): SpoolFileName | undefined {
  const match = NAME.exec(fileName);
  if (!match) return undefined;
  const seq = Number(match[1]);
  return match[2] !== undefined && match[3] !== undefined
    ? { seq, uploadMs: Number(match[2]), unique: match[3] }
    : { seq };
}
