# Roster's clusternode daemon, FROM scratch: nothing is pulled.
#
# The binary is built on the host (static, CGO_ENABLED=0) into a small
# build context; cmd/clusternode/docker-build.sh does both steps:
#
#   CGO_ENABLED=0 go build -trimpath -o bin/docker/clusternode ./cmd/clusternode
#   mkdir -p bin/docker/tmp
#   docker build -f Dockerfile -t roster/clusternode bin/docker
FROM scratch

# /tmp for -dev (its temporary data dir); /data is the volume for raft state.
COPY tmp /tmp
COPY clusternode /clusternode

# gossip (UDP+TCP), transport, raft, HTTP API
EXPOSE 7946/tcp 7946/udp 7947/tcp 7948/tcp 7480/tcp
VOLUME ["/data"]

ENV CLUSTERNODE_DATA_DIR=/data \
    CLUSTERNODE_BIND=0.0.0.0 \
    CLUSTERNODE_HTTP=0.0.0.0:7480 \
    CLUSTERNODE_HTTP_ADDR=127.0.0.1:7480

HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/clusternode", "health"]

ENTRYPOINT ["/clusternode"]
CMD ["agent"]
