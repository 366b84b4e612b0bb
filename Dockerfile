# Meridian's container image. It pulls nothing: FROM scratch, with the binary built on the
# host and the shared libraries it links, which deploy/image/stage.sh collects (see there):
#   deploy/image/stage.sh && docker build -t meridian .
# Runs as user 10001; the default configuration (deploy/image/meridian.toml) serves the
# example zones on 5300 (DNS) and 5380 (API), with state in /var/lib/meridian.
FROM scratch
COPY deploy/image/rootfs/ /
COPY --chown=10001:10001 deploy/image/state/ /var/lib/meridian/
COPY deploy/image/meridian.toml /etc/meridian/meridian.toml
COPY zones/ /etc/meridian/zones/
USER 10001:10001
WORKDIR /etc/meridian
EXPOSE 5300/udp 5300/tcp 5380/tcp
ENTRYPOINT ["/usr/local/bin/meridian"]
CMD ["serve", "--config", "/etc/meridian/meridian.toml"]
