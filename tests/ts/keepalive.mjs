// Node's own HTTP client keeps an idle keep-alive socket and reuses it, as the SDK's
// fetch does (issue: the TS suite hit "other side closed" when the server closed idle
// sockets at 5 s). Environment: SPRUCE_URL (http base URL), SPRUCE_API_KEY, IDLE_MS.
// Prints one JSON line: each request's status and whether it reused the first socket.

import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: 120000 });
const url = new URL('/indexes', process.env.SPRUCE_URL);

function get() {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { agent, headers: { 'Api-Key': process.env.SPRUCE_API_KEY } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
      },
    );
    req.on('error', (err) => resolve({ error: String(err), reused: req.reusedSocket }));
  });
}

const first = await get();
await new Promise((r) => setTimeout(r, Number(process.env.IDLE_MS)));
const second = await get();
agent.destroy();
console.log(JSON.stringify([first, second]));
