// An Express app with the `compression` middleware, as many Node APIs are deployed: the origin
// nobody here wrote for tests/gateway/gateway_real_origins_test.cpp. Usage: node express_origin.js PORT
// GET /__requests lists what reached it (method, url, If-None-Match, Accept-Encoding, status).
'use strict';
const express = require('express');
const compression = require('compression');

const port = Number(process.argv[2]);
const app = express();
const seen = [];

app.get('/__requests', (req, res) => res.json(seen));
app.use((req, res, next) => {
  const record = {
    method: req.method,
    url: req.originalUrl,
    ifNoneMatch: req.get('if-none-match') || '-',
    acceptEncoding: req.get('accept-encoding') || '-',
    status: 0,
  };
  res.on('finish', () => {
    record.status = res.statusCode;
    seen.push(record);
  });
  next();
});
app.use(compression({ threshold: 0 }));

const games = JSON.stringify(
  Array.from({ length: 400 }, (_, id) => ({ id, title: `Game ${id}`, publisher: 'Sega' })));
app.get('/api/games', (req, res) => {
  res.set('Cache-Control', 'public, max-age=300');
  res.type('application/json').send(games);  // Express sets a weak ETag and answers 304 itself
});

const server = app.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
// A test that crashed cannot stop us: leave with it rather than hold its output open.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
