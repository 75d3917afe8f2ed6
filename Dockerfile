# sipreg: multi-stage build on Node 20 slim, run as a non-root user.
# (No Docker engine runs where this was written: kept simple enough to check by reading.)
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# The console's static script and style are served from the source tree (src/admin/console/routes.ts).
COPY --from=build /app/src/admin/console/static ./src/admin/console/static
USER node
EXPOSE 5060/udp 5060/tcp 5061/tcp 5066/tcp 7443/tcp 8080
# The admin API binds 127.0.0.1 by default; in a container set ADMIN_HOST=0.0.0.0 (and ADMIN_TOKEN) to reach it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.ADMIN_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/main.js"]
