// Raw HTTP requests over a real socket to the ingest Worker's loopback port, for replaying the
// exact requests an SDK builds (headers, chunked bodies, gzip) where no device or SDK runs here.
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';

/** POST `body` (Buffer or string) to `url`; `chunked` sends it without Content-Length. */
export function post(url, { headers = {}, body = '', chunked = false } = {}) {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: 'POST',
        // A fresh connection each time: a refusal sent before the body is read closes the
        // connection, and a pooled socket would then fail the next request.
        agent: false,
        headers: chunked ? { ...headers, 'transfer-encoding': 'chunked' } : { ...headers, 'content-length': data.length },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (chunked) {
      // Like HttpURLConnection.setChunkedStreamingMode(0): several chunks, no length up front.
      for (let i = 0; i < data.length; i += 4096) req.write(data.subarray(i, i + 4096));
    } else {
      req.write(data);
    }
    req.end();
  });
}

export const gzip = (value) => gzipSync(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
export const basic = (key) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

/** Device context as the mobile SDKs build it (analytics-kotlin AndroidContextPlugin.kt). */
export function mobileContext(library) {
  return {
    app: { name: 'Shop', version: '3.1.0', build: '310', namespace: 'example.shop' },
    device: { id: 'dev-1', manufacturer: 'Google', model: 'Pixel 8', name: 'shiba', type: 'android', advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d', adTrackingEnabled: true },
    os: { name: 'Android', version: '14' },
    library: { name: library, version: '1.0.0' },
    locale: 'en-US',
    screen: { width: 1080, height: 2400, density: 2.625 },
    network: { wifi: true, cellular: false },
  };
}
