# syntax=docker/dockerfile:1
# The TypeScript images, one build stage shared by all: `docker build --target <name> .`
#   operator | cache-producer | source-service
# (The OpenResty image is workloads/openresty/Dockerfile: a different base.)
ARG NODE_VERSION=20.19.5

FROM node:${NODE_VERSION}-bookworm AS build
# No native addons (the ZooKeeper client is pure JS), so the slim runtime needs no toolchain.
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator ./operator
COPY workloads ./workloads
COPY hack/local ./hack/local
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/operator ./dist/operator
USER 10001:10001

FROM runtime AS operator
EXPOSE 8080 8081
ENTRYPOINT ["node", "--enable-source-maps", "dist/operator/src/main.js"]

FROM runtime AS cache-producer
COPY --from=build /src/dist/workloads/cache-producer ./dist/workloads/cache-producer
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "dist/workloads/cache-producer/src/main.js"]

FROM runtime AS source-service
COPY --from=build /src/dist/workloads/source-service ./dist/workloads/source-service
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "dist/workloads/source-service/src/main.js"]
