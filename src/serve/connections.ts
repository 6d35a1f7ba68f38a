// Connection-level limits of the HTTP server: how many sockets may be open at once and how long a
// client may take to send its request, so slow or idle clients cannot hold the server.
import type { Server, ServerOptions } from 'node:http';
import type { Limits } from './limits.js';

/** Options for http.createServer. Node checks them every connectionsCheckingInterval ms. */
export function httpServerOptions(limits: Limits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    // A backstop for routes that do not read their body through readJsonBody (which answers 408
    // at bodyTimeoutMs): Node closes a request still arriving after this.
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + 5000,
    connectionsCheckingInterval: 1000,
    keepAliveTimeout: 5000,
  };
}

/** Caps open connections: one over maxConnections is closed as it arrives. */
export function applyConnectionLimits(server: Server, limits: Limits): void {
  server.maxConnections = limits.maxConnections;
}
