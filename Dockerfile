# soft-ix container image: a static soft-ix binary on Debian 12 slim.
#
#   docker build -t soft-ix .
#   docker run -d --name soft-ix --network host \
#     --cap-add NET_ADMIN --cap-add NET_RAW --device /dev/net/tun \
#     -v ./ix.conf:/etc/soft-ix/ix.conf:ro soft-ix --map GigaEthernet0.0=eth0
#
# The build command below is the one test.sh runs as "release build", so CI
# catches a broken image build without a Docker engine.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/soft-ix ./cmd/soft-ix

# Debian slim rather than distroless: iproute2 is there for looking at what
# soft-ix did (ip addr, ip route) and for `soft-ix lab`, which drives ip netns.
FROM debian:bookworm-slim
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /out/soft-ix /usr/local/bin/soft-ix
# IKE on UDP 500 and 4500 (NAT-T and ESP-in-UDP); ESP itself is IP protocol 50.
EXPOSE 500/udp 4500/udp
# `docker exec NAME soft-ix show ikev2 sa` talks to the daemon over
# /run/soft-ix/soft-ix.sock inside the container.
ENTRYPOINT ["/usr/local/bin/soft-ix", "-c", "/etc/soft-ix/ix.conf"]
