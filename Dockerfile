# Parley service image. Multi-stage: build with dev dependencies, run with production ones.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
COPY package.json ./
# DATA_DIR: attachments (STORAGE_DIR) and, for S3, uploads on their way to the bucket; owned by
# the user the server runs as, so that a volume mounted there starts writable.
RUN mkdir -p /app/data/attachments && chown -R node:node /app/data
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
