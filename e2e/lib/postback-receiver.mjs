// A stand-in ad network for postback tests, on loopback: it can be down (not listening), can
// refuse the first requests (503), can lose the answer to a request it did act on (500 after
// applying it), and applies each Idempotency-Key's effect once, as a real network would.
import { createServer } from 'node:http';

export async function startPostbackReceiver({ refuseFirst = 0, loseAnswers = 0 } = {}) {
  const state = {
    deliveries: [], // every request, in order: { key, method, url, body, at }
    effects: new Map(), // idempotency key → the request whose effect was applied
    refused: 0,
    lost: 0,
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      const delivery = { key, method: req.method, url: req.url, body, at: Date.now(), userAgent: req.headers['user-agent'] };
      state.deliveries.push(delivery);
      if (state.refused < refuseFirst) {
        state.refused += 1;
        res.writeHead(503).end('busy');
        return;
      }
      if (key && !state.effects.has(key)) state.effects.set(key, delivery);
      if (state.lost < loseAnswers) {
        state.lost += 1;
        res.writeHead(500).end('applied, but the answer is lost');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    /** Stops listening (connections are refused) until `up()`. */
    down: () => {
      server.close();
      server.closeAllConnections();
    },
    up: () => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
