# syntax=docker/dockerfile:1
# The TypeScript images, one build stage shared by all: `docker build --target <name> .`
#   operator | cache-producer | source-service
# (The OpenResty image is workloads/openresty/Dockerfile: a different base.)
ARG NODE_VERSION=20.19.5

FROM node:${NODE_VERSION}-bookworm AS build
# No native addons (the ZooKeeper client is pure JS), so the slim runtime needs no toolchain.
WORKDIR /src
# npm workspaces: each image's dependencies are its own package.json's (operator/,
# workloads/cache-producer/, workloads/source-service/); packages/contract has none.
COPY package.json package-lock.json .npmrc ./
COPY packages/contract/package.json ./packages/contract/
COPY operator/package.json ./operator/
COPY workloads/cache-producer/package.json ./workloads/cache-producer/
COPY workloads/source-service/package.json ./workloads/source-service/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages ./packages
COPY operator ./operator
COPY workloads ./workloads
COPY hack/local ./hack/local
RUN npx tsc -p tsconfig.build.json

# One workspace's production dependencies (the workspace links are dropped: code imports the
# contract by relative path from dist/).
FROM build AS deps-operator
RUN npm ci --omit=dev --no-audit --no-fund -w operator && rm -rf node_modules/@cachetier
FROM build AS deps-cache-producer
RUN npm ci --omit=dev --no-audit --no-fund -w workloads/cache-producer && rm -rf node_modules/@cachetier
FROM build AS deps-source-service
RUN npm ci --omit=dev --no-audit --no-fund -w workloads/source-service && rm -rf node_modules/@cachetier

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/dist/packages/contract ./dist/packages/contract
USER 10001:10001

FROM runtime AS operator
COPY --from=deps-operator /src/node_modules ./node_modules
COPY --from=build /src/dist/operator ./dist/operator
EXPOSE 8080 8081
ENTRYPOINT ["node", "--enable-source-maps", "dist/operator/src/main.js"]

FROM runtime AS cache-producer
COPY --from=deps-cache-producer /src/node_modules ./node_modules
COPY --from=build /src/dist/workloads/cache-producer ./dist/workloads/cache-producer
# 8080: the L3 API and probes; 9464: /metrics (METRICS_PORT)
EXPOSE 8080 9464
ENTRYPOINT ["node", "--enable-source-maps", "dist/workloads/cache-producer/src/main.js"]

FROM runtime AS source-service
COPY --from=deps-source-service /src/node_modules ./node_modules
COPY --from=build /src/dist/workloads/source-service ./dist/workloads/source-service
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "dist/workloads/source-service/src/main.js"]
