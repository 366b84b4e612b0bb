# Meridian in a container: build the release binary (it carries the default geolocation database).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/meridian /usr/local/bin/meridian
WORKDIR /etc/meridian
ENTRYPOINT ["meridian"]
CMD ["serve", "--config", "/etc/meridian/meridian.toml"]
