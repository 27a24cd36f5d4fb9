// A tiny HTTP service for the images tier, run with the image's node: GET / answers 'hello from node'.
// Listens on the socket systemd passed (LISTEN_FDS, fd 3), else --unix PATH, else --port N (all addresses).
// Logs 'listening on ...' once it accepts, and on SIGTERM 'stopped cleanly' before exiting 0.
'use strict';
const http = require('http');
const fs = require('fs');

const args = process.argv.slice(2);
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('hello from node\n');
});

let where, target;
if (process.env.LISTEN_FDS === '1' && process.env.LISTEN_PID === String(process.pid)) {
  target = { fd: 3 }; where = 'fd 3 (socket activation)';
} else if (args[0] === '--unix') {
  target = { path: args[1] }; where = args[1];
} else if (args[0] === '--port') {
  target = { port: Number(args[1]), host: '0.0.0.0' }; where = `port ${args[1]}`;
} else {
  console.error('usage: server.js --unix PATH | --port N (or socket activation)');
  process.exit(2);
}

server.listen(target, () => console.log(`listening on ${where}`));
process.on('SIGTERM', () => {
  server.close(() => {
    console.log('stopped cleanly');
    process.exit(0);
  });
});
