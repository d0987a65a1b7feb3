# dropout-service container: build with dev dependencies, run with production dependencies only.
# `npm run test:container` (CI runs it) builds this file as it is with buildah, on a local stand-in for the base image
# (scripts/container-base.sh), and runs the image with podman: test/deploy/container.test.ts checks its config and
# files, then that node runs as PID 1 and uid 1000, passes the HEALTHCHECK, answers exactly and exits 0 on SIGTERM.
#
# Base: Node 26, the Active LTS line since 2026-10-28 (24 is in maintenance), on Debian 13 (trixie), slim variant.
# The tag pins the Node major line and the Debian release; for byte-for-byte reproducible builds pin the digest too
# (node:26-trixie-slim@sha256:...) from your registry. `npm run test:image-node` runs the tests on this line's Node.

# ---- build: all dependencies, compile TypeScript to dist/ (dist/kernel/wasm/*.wasm are copied by `npm run build`)
FROM node:26-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing here builds native code, and the build only needs tsc.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output, nothing else
FROM node:26-trixie-slim AS runtime
# glibc otherwise gives the top of its heap back to the kernel after each large body's 64 KiB socket chunks are freed,
# and faults it in again for the next (~40 % of req/s at 64K-element binary bodies; docs/performance.md). The same
# setting as `npm start`, which test/server/allocator-tuning.test.ts checks.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    GRPC_PORT=8001 \
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# Files stay root-owned and read-only to the service. The image's `node` user, given numerically so that Kubernetes'
# runAsNonRoot can verify it without a runAsUser (a user *name* it cannot check and refuses to start).
USER 1000:1000
# HTTP (/v1, /v2, probes, metrics) and the Open Inference Protocol over gRPC.
EXPOSE 3000 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, not npm and not a shell: the node image's ENTRYPOINT (docker-entrypoint.sh) `exec`s this command, so
# node itself is PID 1. PID 1 gets no default signal actions (a signal without a handler is ignored), but
# close-with-grace installs SIGTERM/SIGINT handlers, so SIGTERM runs the graceful shutdown: stop accepting, finish
# in-flight requests, close the pool, exit 0 within 10 s. No init (tini, --init) is needed: the service starts no
# child processes (the pool is worker_threads), so there are no zombies for PID 1 to reap.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
