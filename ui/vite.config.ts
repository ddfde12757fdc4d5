import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The production build goes to ../ui-dist, which the server embeds (src/web.rs).
// `npm run dev` proxies the API and the WebSocket to a local server on :8080.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../ui-dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    // Module preload polyfill would inject an inline script, which the CSP forbids.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/ws": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
