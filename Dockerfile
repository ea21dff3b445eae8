# Vigie image for clusters: the same program runs as the per-node agent and as the brain.
# Build: docker build -t vigie:0.1.0 .
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
COPY scripts/npm-ci.sh scripts/
RUN scripts/npm-ci.sh
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends bpftrace ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/bin bin
COPY --from=build /app/package.json package.json
COPY --from=build /app/policies policies
ENTRYPOINT ["node", "/app/bin/vigie.js"]
