// Reads every message of Kafka topics over the Kafka protocol (Metadata v1, Fetch v4, record
// batches of magic 2), from node with no client library: enough for tests against one
// broker (tansu) whose producer sends uncompressed batches (KAFKA_COMPRESSION=none).
import { connect } from 'node:net';

const METADATA = 3;
const FETCH = 1;

class Writer {
  constructor() { this.parts = []; }
  i8(v) { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this; }
  i16(v) { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  i64(v) { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); this.parts.push(b); return this; }
  str(s) { const b = Buffer.from(s); this.i16(b.length); this.parts.push(b); return this; }
  bytes() { return Buffer.concat(this.parts); }
}

class Reader {
  constructor(buf) { this.buf = buf; this.at = 0; }
  i8() { return this.buf.readInt8((this.at += 1) - 1); }
  i16() { return this.buf.readInt16BE((this.at += 2) - 2); }
  i32() { return this.buf.readInt32BE((this.at += 4) - 4); }
  i64() { return Number(this.buf.readBigInt64BE((this.at += 8) - 8)); }
  take(n) { const b = this.buf.subarray(this.at, this.at + n); this.at += n; return b; }
  str() { const n = this.i16(); return n < 0 ? null : this.take(n).toString(); }
  array(item) { const n = this.i32(); return n < 0 ? [] : Array.from({ length: n }, () => item()); }
  varint() {
    let shift = 0n; let value = 0n; let byte;
    do { byte = this.buf[this.at++]; value |= BigInt(byte & 0x7f) << shift; shift += 7n; } while (byte & 0x80);
    return Number((value >> 1n) ^ -(value & 1n)); // zigzag
  }
  blob() { const n = this.varint(); return n < 0 ? null : this.take(n); }
}

/** One connection; requests are sent one at a time. */
async function open(broker) {
  const [host, port] = broker.split(':');
  const socket = connect(Number(port), host);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let pending = Buffer.alloc(0);
  let waiter = null;
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    if (waiter && pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0);
      const frame = pending.subarray(4, 4 + size);
      pending = pending.subarray(4 + size);
      const w = waiter; waiter = null; w.resolve(frame);
    }
  });
  socket.on('error', (e) => waiter?.reject(e));
  let correlation = 0;
  return {
    async call(apiKey, version, body) {
      const header = new Writer().i16(apiKey).i16(version).i32(++correlation).str('attrib-e2e').bytes();
      const frame = new Promise((resolve, reject) => { waiter = { resolve, reject }; });
      socket.write(Buffer.concat([new Writer().i32(header.length + body.length).bytes(), header, body]));
      const reader = new Reader(await frame);
      if (reader.i32() !== correlation) throw new Error('kafka: out-of-order response');
      return reader;
    },
    close: () => socket.destroy(),
  };
}

function partitionsOf(reader) {
  reader.array(() => ({ id: reader.i32(), host: reader.str(), port: reader.i32(), rack: reader.str() }));
  reader.i32(); // controller
  return reader.array(() => {
    const error = reader.i16(); const name = reader.str(); reader.i8();
    const partitions = reader.array(() => {
      reader.i16(); const partition = reader.i32(); reader.i32();
      reader.array(() => reader.i32()); reader.array(() => reader.i32());
      return partition;
    });
    return { error, name, partitions };
  });
}

/** The records of a fetched record set: `{offset, key, value, headers}` (strings or null). */
function records(set) {
  const out = [];
  const r = new Reader(set);
  while (r.at + 12 <= set.length) {
    const base = r.i64(); const length = r.i32();
    if (r.at + length > set.length) break; // a partial batch at the end of the response
    const end = r.at + length;
    r.i32(); const magic = r.i8(); r.i32(); const attributes = r.i16();
    if (magic !== 2) throw new Error(`kafka: record batch magic ${magic}`);
    if (attributes & 0x07) throw new Error('kafka: compressed batch (set KAFKA_COMPRESSION=none)');
    r.i32(); r.i64(); r.i64(); r.i64(); r.i16(); r.i32();
    const count = r.i32();
    for (let i = 0; i < count; i++) {
      r.varint(); r.i8(); r.varint();
      const offset = base + r.varint();
      const key = r.blob(); const value = r.blob();
      const headers = {};
      const n = r.varint();
      for (let h = 0; h < n; h++) headers[r.blob().toString()] = r.blob()?.toString() ?? null;
      if (!(attributes & 0x20)) out.push({ offset, key: key?.toString() ?? null, value: value?.toString() ?? null, headers });
    }
    r.at = end;
  }
  return out;
}

/** Every message of `topics` (missing topics have none): `{topic, partition, offset, key, value, headers}`. */
export async function readTopics(broker, topics) {
  const conn = await open(broker);
  try {
    const meta = partitionsOf(await conn.call(METADATA, 1, (() => {
      const w = new Writer().i32(topics.length); topics.forEach((t) => w.str(t)); return w.bytes();
    })()));
    const messages = [];
    for (const { error, name, partitions } of meta) {
      if (error !== 0) continue; // unknown topic: nothing written to it
      for (const partition of partitions) {
        let offset = 0;
        for (;;) {
          const body = new Writer().i32(-1).i32(100).i32(1).i32(8 << 20).i8(0).i32(1).str(name)
            .i32(1).i32(partition).i64(offset).i32(8 << 20).bytes();
          const r = await conn.call(FETCH, 4, body);
          r.i32();
          let high = offset; let got = [];
          r.array(() => {
            r.str();
            r.array(() => {
              r.i32(); const err = r.i16(); high = r.i64(); r.i64();
              r.array(() => [r.i64(), r.i64()]);
              const size = r.i32();
              if (err !== 0) throw new Error(`kafka: fetch error ${err} on ${name}/${partition}`);
              if (size > 0) got = records(r.take(size));
            });
          });
          for (const m of got) if (m.offset >= offset) messages.push({ topic: name, partition, ...m });
          if (got.length === 0 || offset >= high) break;
          offset = got[got.length - 1].offset + 1;
          if (offset >= high) break;
        }
      }
    }
    return messages;
  } finally {
    conn.close();
  }
}
