# The plain hosts of the compose lab (docker-compose.yml): the IX's LAN host,
# Azure's VNet VM and the internet router between the two gateways. Debian
# slim with ip and ping, nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 iputils-ping \
	&& rm -rf /var/lib/apt/lists/*
CMD ["sleep", "infinity"]
