# Meridian in a container: build the release binary, ship it with the example data.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/meridian /usr/local/bin/meridian
COPY geodata /usr/share/meridian/geodata
WORKDIR /etc/meridian
ENTRYPOINT ["meridian"]
CMD ["serve", "--config", "/etc/meridian/meridian.toml"]
