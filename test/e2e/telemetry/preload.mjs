// Preloaded into the child (NODE_OPTIONS=--import): records every DNS lookup and every outgoing
// connection made from JavaScript to a non-loopback address, one JSON line each, in NET_LOG.
import { appendFileSync } from 'node:fs';
import dns from 'node:dns';
import net from 'node:net';

const log = (what) => appendFileSync(process.env.NET_LOG, JSON.stringify(what) + '\n');
const loopback = (h) => h === undefined || h === 'localhost' || /^127\./.test(h) || h === '::1';

for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) {
  const orig = dns[name];
  dns[name] = function (host, ...rest) {
    if (!loopback(host)) log({ dns: name, host });
    return orig.call(this, host, ...rest);
  };
  const porig = dns.promises[name];
  dns.promises[name] = function (host, ...rest) {
    if (!loopback(host)) log({ dns: `promises.${name}`, host });
    return porig.call(this, host, ...rest);
  };
}
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = typeof args[0] === 'object' && args[0] !== null ? args[0] : { port: args[0], host: args[1] };
  if (!o.path && !loopback(o.host)) log({ connect: `${o.host}:${o.port}` });
  return connect.apply(this, args);
};
