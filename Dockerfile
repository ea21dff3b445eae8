# Vigie image for clusters: the same program runs as the per-node agent, the brain and the
# admission webhook. Built by `npm run image` (scripts/image.sh), which prepares the build context:
# no registry is needed. The base is a Debian bookworm root file system (debootstrap minbase with
# ca-certificates and bpftrace) imported into dockerd; the context holds the application built on
# the host (dist/ with its data files, bin/, production node_modules) and the host's Node 20 binary.
# Where a registry serves node:20-bookworm-slim, Dockerfile.registry builds the same image from the
# source tree instead.
ARG BASE=vigie-base:bookworm
FROM ${BASE}
COPY node /usr/local/bin/node
WORKDIR /app
COPY package.json package-lock.json ./
COPY node_modules node_modules
COPY bin bin
COPY dist dist
# The brain runs as user 1000 (the manifests say so); the database lives on a volume, not here.
ENV NODE_ENV=production
ENTRYPOINT ["/usr/local/bin/node", "/app/bin/vigie.js"]
