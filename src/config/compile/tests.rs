//! Unit tests for the `meridian.toml` loader: defaults, every key, paths, and each error's
//! line and key. Inline configs, then rows of input → expected value or error text.

use super::*;

fn parse_at(text: &str, path: &str) -> Result<Config, ConfigErrors> {
    parse(text, Path::new(path))
}

fn ok(text: &str) -> Config {
    match parse_at(text, "meridian.toml") {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}\n--- text ---\n{text}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse_at(text, "meridian.toml") {
        Ok(config) => panic!("expected errors, got {config:#?}\n--- text ---\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn empty_file_gives_all_defaults() {
    for text in [
        "",
        "\n",
        "# nothing to see\n",
        "[server]\n[geoip]\n[fleet]\n[regions]\n",
    ] {
        let c = ok(text);
        assert_eq!(c.path, Path::new("meridian.toml"));
        assert_eq!(c.server.region, "");
        assert_eq!(c.server.dns_listen, [addr("127.0.0.1:5300")]);
        assert_eq!(c.server.api_listen, addr("127.0.0.1:5380"));
        assert_eq!(c.server.zones_dir, Path::new("zones"));
        assert_eq!(c.server.state_dir, Path::new("state"));
        assert_eq!(c.server.udp_workers, 0);
        assert_eq!(c.server.max_udp_payload, 1232);
        assert_eq!(c.server.tcp_idle_timeout, Duration::from_secs(10));
        assert_eq!(c.server.tcp_max_connections, 1024);
        assert_eq!(c.geoip.database, GeoDatabase::Shipped);
        assert_eq!(c.fleet.token_file, Path::new("fleet.token"));
        assert_eq!(c.fleet.quorum, Quorum::Majority);
        assert!(c.fleet.local_prober);
        assert!(c.regions.is_empty());
    }
}

#[test]
fn every_key_is_parsed() {
    let text = r#"
[server]
region = "us-east"
dns_listen = ["0.0.0.0:53", "[::]:53", "127.0.0.1:0"]
api_listen = "[::1]:8080"
zones_dir = "z"
state_dir = "/var/lib/meridian"
udp_workers = 4
max_udp_payload = 4096
tcp_idle_timeout = "2m"
tcp_max_connections = 7

[geoip]
database = "geodata/city.mmdb"

[fleet]
token_file = "secret/token"
quorum = 2
local_prober = false

[regions.eu-west]
lat = 53.35
lon = -6.26
[regions.us-east]
lat = 39
lon = -77.49
"#;
    let c = parse_at(text, "/etc/meridian/meridian.toml").unwrap();
    assert_eq!(c.path, Path::new("/etc/meridian/meridian.toml"));
    assert_eq!(c.server.region, "us-east");
    assert_eq!(
        c.server.dns_listen,
        [addr("0.0.0.0:53"), addr("[::]:53"), addr("127.0.0.1:0")]
    );
    assert_eq!(c.server.api_listen, addr("[::1]:8080"));
    assert_eq!(c.server.zones_dir, Path::new("/etc/meridian/z"));
    assert_eq!(c.server.state_dir, Path::new("/var/lib/meridian"));
    assert_eq!(c.server.udp_workers, 4);
    assert_eq!(c.server.max_udp_payload, 4096);
    assert_eq!(c.server.tcp_idle_timeout, Duration::from_secs(120));
    assert_eq!(c.server.tcp_max_connections, 7);
    assert_eq!(
        c.geoip.database,
        GeoDatabase::File("/etc/meridian/geodata/city.mmdb".into())
    );
    assert_eq!(c.fleet.token_file, Path::new("/etc/meridian/secret/token"));
    assert_eq!(c.fleet.quorum, Quorum::AtLeast(2));
    assert!(!c.fleet.local_prober);
    let regions: Vec<_> = c
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.lat, r.lon))
        .collect();
    assert_eq!(
        regions,
        [("eu-west", 53.35, -6.26), ("us-east", 39.0, -77.49)]
    );
}

#[test]
fn relative_paths_resolve_against_the_config_dir() {
    // (config file, zones_dir as written or None for the default, expected zones_dir)
    let rows = [
        ("meridian.toml", None, "zones"),
        ("meridian.toml", Some("z"), "z"),
        ("./meridian.toml", None, "./zones"),
        ("conf/meridian.toml", None, "conf/zones"),
        (
            "conf/meridian.toml",
            Some("../shared/zones"),
            "conf/../shared/zones",
        ),
        ("/etc/meridian/meridian.toml", None, "/etc/meridian/zones"),
        (
            "/etc/meridian/meridian.toml",
            Some("/srv/zones"),
            "/srv/zones",
        ),
    ];
    for (file, written, expected) in rows {
        let text = match written {
            Some(dir) => format!(
                "[server]\nzones_dir = {dir:?}\nstate_dir = {dir:?}\n\
                 [geoip]\ndatabase = {dir:?}\n[fleet]\ntoken_file = {dir:?}\n"
            ),
            None => String::new(),
        };
        let c = parse_at(&text, file).unwrap();
        assert_eq!(
            c.server.zones_dir,
            Path::new(expected),
            "{file} {written:?}"
        );
        if written.is_some() {
            assert_eq!(
                c.server.state_dir,
                Path::new(expected),
                "{file} {written:?}"
            );
            assert_eq!(
                c.geoip.database,
                GeoDatabase::File(expected.into()),
                "{file} {written:?}"
            );
            assert_eq!(
                c.fleet.token_file,
                Path::new(expected),
                "{file} {written:?}"
            );
        } else {
            let dir = Path::new(file).parent().unwrap();
            assert_eq!(c.server.state_dir, dir.join("state"));
            assert_eq!(c.fleet.token_file, dir.join("fleet.token"));
            assert_eq!(c.geoip.database, GeoDatabase::Shipped);
        }
    }
}

#[test]
fn each_error_names_line_and_key() {
    // (text, the one expected error)
    let rows: &[(&str, &str)] = &[
        (
            "# Meridian\n\n[server]\nregion = \"\"\nzones_dir = \"zones\"\nstate_dir = \"state\"\nmax_udp_payload = 99\n",
            "meridian.toml:7: server.max_udp_payload: 99 is below the minimum 512",
        ),
        (
            "[server]\nregion = \"\"\ndns_lisen = [\"127.0.0.1:53\"]\n",
            "meridian.toml:3: server.dns_lisen: unknown key (known: region, dns_listen, api_listen, zones_dir, \
             state_dir, udp_workers, max_udp_payload, tcp_idle_timeout, tcp_max_connections, \
             tcp_max_connections_per_source, tcp_write_timeout, tcp_max_queued_replies, \
             api_tls_cert, api_tls_key, api_max_connections, api_max_connections_per_source, \
             api_header_timeout, api_body_timeout, identity, nsid, version)",
        ),
        (
            "[server]\nregion = \"eu-west\"\n\n[fleet]\nquorum = \"all\"\n\n\n\n\n\n[regions.eu-west]\nlat = 123.0\nlon = 0\n",
            "meridian.toml:12: regions.eu-west.lat: 123.0 is outside -90..=90",
        ),
        (
            "[server]\nmax_udp_payload = 4097\n",
            "meridian.toml:2: server.max_udp_payload: 4097 is above the maximum 4096",
        ),
        (
            "[server]\nudp_workers = 257\n",
            "meridian.toml:2: server.udp_workers: 257 is above the maximum 256",
        ),
        (
            "[server]\nudp_workers = -1\n",
            "meridian.toml:2: server.udp_workers: -1 is below the minimum 0",
        ),
        (
            "[server]\ntcp_max_connections = 0\n",
            "meridian.toml:2: server.tcp_max_connections: 0 is below the minimum 1",
        ),
        (
            "[server]\ntcp_idle_timeout = \"0s\"\n",
            "meridian.toml:2: server.tcp_idle_timeout: \"0s\" must be greater than 0",
        ),
        (
            "[server]\ndns_listen = []\n",
            "meridian.toml:2: server.dns_listen: must list at least one ip:port",
        ),
        (
            "[server]\ndns_listen = [\"127.0.0.1:53\",\n  \"localhost:53\"]\n",
            "meridian.toml:3: server.dns_listen[1]: \"localhost:53\" is not an ip:port address \
             (like \"127.0.0.1:53\" or \"[::1]:53\")",
        ),
        (
            "[server]\ndns_listen = [\"::1:53\"]\n",
            "meridian.toml:2: server.dns_listen[0]: \"::1:53\" is not an ip:port address \
             (like \"127.0.0.1:53\" or \"[::1]:53\")",
        ),
        (
            "[server]\ndns_listen = [\"127.0.0.1:53\", \"[::1]:53\", \"127.0.0.1:53\"]\n",
            "meridian.toml:2: server.dns_listen[2]: 127.0.0.1:53 is listed twice (also dns_listen[0])",
        ),
        (
            "[server]\napi_listen = \"127.0.0.1\"\n",
            "meridian.toml:2: server.api_listen: \"127.0.0.1\" is not an ip:port address \
             (like \"127.0.0.1:53\" or \"[::1]:53\")",
        ),
        (
            "[server]\ndns_listen = [\"127.0.0.1:5300\"]\napi_listen = \"127.0.0.1:5300\"\n",
            "meridian.toml:3: server.api_listen: 127.0.0.1:5300 is also server.dns_listen[0], \
             where DNS listens on TCP",
        ),
        (
            "[server]\nzones_dir = \"\"\n",
            "meridian.toml:2: server.zones_dir: must not be empty",
        ),
        (
            "[server]\nregion = \"eu-wset\"\n[regions.eu-west]\nlat = 1\nlon = 2\n[regions.us-east]\nlat = 1\nlon = 2\n",
            "meridian.toml:2: server.region: unknown region \"eu-wset\" (known: eu-west, us-east)",
        ),
        (
            "[regions.eu-west]\nlat = 1\nlon = 2\n",
            "meridian.toml: server.region: required when [regions] are defined (known: eu-west)",
        ),
        (
            "[server]\nregion = \"eu-west\"\n",
            "meridian.toml:2: server.region: unknown region \"eu-west\" (no [regions.NAME] tables are defined)",
        ),
        (
            "[server]\nregion = \"EU_west\"\n[regions.EU_west]\nlat = 1\nlon = 2\n",
            "meridian.toml:3: regions.EU_west: invalid region name \"EU_west\": use 1 to 63 of a-z, 0-9 and -",
        ),
        (
            "[server]\nregion = \"eu-west\"\n[regions.eu-west]\nlat = 1\n",
            "meridian.toml:3: regions.eu-west.lon: missing (every region needs lat and lon)",
        ),
        (
            "[server]\nregion = \"eu-west\"\n[regions.eu-west]\nlat = 1\nlon = -180.5\n",
            "meridian.toml:5: regions.eu-west.lon: -180.5 is outside -180..=180",
        ),
        (
            "[server]\nregion = \"eu-west\"\n[regions.eu-west]\nlat = nan\nlon = 0\n",
            "meridian.toml:4: regions.eu-west.lat: NaN is outside -90..=90",
        ),
        (
            "[fleet]\nquorum = \"most\"\n",
            "meridian.toml:2: fleet.quorum: \"most\" is not a quorum (use \"majority\", \"regions\", \"all\", \"any\" or a number >= 1)",
        ),
        (
            "[fleet]\nquorum = 0\n",
            "meridian.toml:2: fleet.quorum: 0 is below the minimum 1",
        ),
        (
            "[fleet]\nquorum = 5000000000\n",
            "meridian.toml:2: fleet.quorum: 5000000000 is above the maximum 4294967295",
        ),
        // Wrong types stop the checks (the shape is unknown); the error still has line and key.
        (
            "\n[server]\nudp_workers = \"four\"\n",
            "meridian.toml:3: server.udp_workers: invalid type: string \"four\", expected an integer",
        ),
        (
            "[fleet]\nquorum = 1.5\n",
            "meridian.toml:2: fleet.quorum: invalid type: floating point `1.5`, expected \"majority\", \"regions\", \"all\", \
             \"any\" or a number of probers",
        ),
        (
            "[server]\ndns_listen = \"127.0.0.1:53\"\n",
            "meridian.toml:2: server.dns_listen: invalid type: string \"127.0.0.1:53\", expected an array",
        ),
        (
            "[server]\ndns_listen = [\"127.0.0.1:53\", 53]\n",
            "meridian.toml:2: server.dns_listen[1]: invalid type: integer `53`, expected a string",
        ),
        (
            "[server]\nregion = \"eu-west\"\n[regions.eu-west]\nlat = \"53\"\nlon = 1\n",
            "meridian.toml:4: regions.eu-west.lat: invalid type: string \"53\", expected a number",
        ),
        (
            "server = 5\n",
            "meridian.toml:1: server: invalid type: integer `5`, expected a table",
        ),
        (
            "[[regions]]\nlat = 1\n",
            "meridian.toml:1: regions: invalid type: sequence, expected a table",
        ),
        (
            "[fleet]\nlocal_prober = \"yes\"\n",
            "meridian.toml:2: fleet.local_prober: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "regions = 5\n",
            "meridian.toml:1: regions: invalid type: integer `5`, expected a table",
        ),
        // Syntax errors: no key to name, but a line.
        (
            "[server]\nregion = \n",
            "meridian.toml:2: string values must be quoted, expected literal string",
        ),
        (
            "[server]\nregion = \"a\"\nregion = \"b\"\n",
            "meridian.toml:3: server.region: duplicate key (first defined on line 2)",
        ),
    ];
    for (text, expected) in rows {
        assert_eq!(errors(text), [*expected], "--- text ---\n{text}");
    }
}

#[test]
fn all_errors_are_reported_together_in_file_order() {
    let text = r#"[regions.eu-west]
lat = 91
lon = 0
colour = "blue"
[regions.Bad]
lat = 0
lon = 0

[server]
region = "nowhere"
dns_listen = ["127.0.0.1:53", "nope"]
udp_workers = 1000
tcp_idle_timeout = "soon"
[fleet]
quorum = -3
"#;
    let e = parse_at(text, "conf/meridian.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "conf/meridian.toml:2: regions.eu-west.lat: 91.0 is outside -90..=90
conf/meridian.toml:4: regions.eu-west.colour: unknown key (known: lat, lon)
conf/meridian.toml:5: regions.Bad: invalid region name \"Bad\": use 1 to 63 of a-z, 0-9 and -
conf/meridian.toml:10: server.region: unknown region \"nowhere\" (known: eu-west, Bad)
conf/meridian.toml:11: server.dns_listen[1]: \"nope\" is not an ip:port address (like \"127.0.0.1:53\" or \"[::1]:53\")
conf/meridian.toml:12: server.udp_workers: 1000 is above the maximum 256
conf/meridian.toml:13: server.tcp_idle_timeout: \"soon\" is not a duration like \"500ms\", \"10s\" or \"2m\" (expected number at 0)
conf/meridian.toml:15: fleet.quorum: -3 is below the minimum 1"
    );
    assert_eq!(e.0.len(), 8);
}

#[test]
fn unknown_keys_are_caught_in_every_section() {
    // (text, expected key, line): one row per table that takes keys, including inline tables.
    let rows = [
        ("bogus = 1\n", "bogus", 1),
        ("[servers]\n", "servers", 1),
        ("[server]\nregoin = \"x\"\n", "server.regoin", 2),
        (
            "server = { dns_listen = [], nope = true }\n",
            "server.nope",
            1,
        ),
        ("[geoip]\ndb = \"x.mmdb\"\n", "geoip.db", 2),
        ("[fleet]\ntoken = \"t\"\n", "fleet.token", 2),
        (
            "[regions.eu-west]\nlat = 1\nlon = 2\nlong = 3\n",
            "regions.eu-west.long",
            4,
        ),
        (
            "[regions]\neu-west = { lat = 1, lon = 2, alt = 3 }\n",
            "regions.eu-west.alt",
            2,
        ),
        (
            "regions.eu-west.lat = 1\nregions.eu-west.lon = 2\nregions.eu-west.x = 2\n",
            "regions.eu-west.x",
            3,
        ),
        ("[server.extra]\nx = 1\n", "server.extra", 1),
    ];
    for (text, key, line) in rows {
        let e = parse_at(text, "meridian.toml").unwrap_err();
        let unknown: Vec<_> =
            e.0.iter()
                .filter(|e| e.message.starts_with("unknown key"))
                .collect();
        assert_eq!(unknown.len(), 1, "{text}: {e}");
        assert_eq!(
            (unknown[0].key.as_str(), unknown[0].line),
            (key, Some(line)),
            "{text}"
        );
    }
    // Several unknown keys in several sections are all reported, not only the first.
    let e = parse_at(
        "[server]\na = 1\nb = 2\n[fleet]\nc = 3\n[regions.x]\nlat = 0\nlon = 0\nd = 4\n",
        "m.toml",
    )
    .unwrap_err();
    let keys: Vec<_> =
        e.0.iter()
            .filter(|e| e.message.starts_with("unknown key"))
            .map(|e| e.key.as_str())
            .collect();
    assert_eq!(keys, ["server.a", "server.b", "fleet.c", "regions.x.d"]);
}

#[test]
fn quorum_forms() {
    let rows = [
        ("\"majority\"", Quorum::Majority),
        ("\"regions\"", Quorum::Regions),
        ("\"all\"", Quorum::All),
        ("\"any\"", Quorum::Any),
        ("1", Quorum::AtLeast(1)),
        ("3", Quorum::AtLeast(3)),
        ("0x10", Quorum::AtLeast(16)),
    ];
    for (written, expected) in rows {
        let c = ok(&format!("[fleet]\nquorum = {written}\n"));
        assert_eq!(c.fleet.quorum, expected, "{written}");
    }
    for bad in ["\"Majority\"", "\"\"", "\"2\"", "0", "-1", "true", "[1]"] {
        let e = errors(&format!("[fleet]\nquorum = {bad}\n"));
        assert!(
            e[0].starts_with("meridian.toml:2: fleet.quorum: "),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn duration_forms() {
    let rows = [
        ("500ms", Duration::from_millis(500)),
        ("5s", Duration::from_secs(5)),
        ("2m", Duration::from_secs(120)),
        ("1h", Duration::from_secs(3600)),
        ("1m 30s", Duration::from_secs(90)),
        ("1s500ms", Duration::from_millis(1500)),
    ];
    for (written, expected) in rows {
        let c = ok(&format!("[server]\ntcp_idle_timeout = {written:?}\n"));
        assert_eq!(c.server.tcp_idle_timeout, expected, "{written}");
    }
    for bad in ["", "10", "ten", "10 parsecs", "0s", "0ms", "-1s"] {
        let e = errors(&format!("[server]\ntcp_idle_timeout = {bad:?}\n"));
        assert!(
            e[0].starts_with("meridian.toml:2: server.tcp_idle_timeout: "),
            "{bad}: {e:?}"
        );
    }
    // A bare number is a type error, not silently seconds.
    assert_eq!(
        errors("[server]\ntcp_idle_timeout = 10\n"),
        ["meridian.toml:2: server.tcp_idle_timeout: invalid type: integer `10`, expected a string"]
    );
}

#[test]
fn listen_address_forms() {
    let rows: &[(&str, &[&str])] = &[
        ("[\"127.0.0.1:5300\"]", &["127.0.0.1:5300"]),
        ("[\"[::1]:5300\"]", &["[::1]:5300"]),
        ("[\"0.0.0.0:53\", \"[::]:53\"]", &["0.0.0.0:53", "[::]:53"]),
        // Port 0 (tests let the kernel pick) may repeat: each bind gets its own port.
        (
            "[\"127.0.0.1:0\", \"127.0.0.1:0\"]",
            &["127.0.0.1:0", "127.0.0.1:0"],
        ),
    ];
    for (written, expected) in rows {
        let c = ok(&format!("[server]\ndns_listen = {written}\n"));
        let expected: Vec<_> = expected.iter().map(|a| addr(a)).collect();
        assert_eq!(c.server.dns_listen, expected, "{written}");
    }
}

#[test]
fn regions_keep_file_order() {
    let text = "[regions.zz]\nlat = 1\nlon = 1\n[regions.aa]\nlat = 2\nlon = 2\n\
                [server]\nregion = \"aa\"\n[regions.mm]\nlat = 3\nlon = 3\n";
    let names: Vec<_> = ok(text).regions.into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["zz", "aa", "mm"]);
}

#[test]
fn region_names() {
    let long = "a".repeat(63);
    let too_long = "a".repeat(64);
    for good in ["eu-west", "us-east-1", "1", "-", long.as_str()] {
        assert!(is_region_name(good), "{good}");
    }
    for bad in [
        "",
        "EU",
        "eu_west",
        "eu.west",
        "eu west",
        "é",
        too_long.as_str(),
    ] {
        assert!(!is_region_name(bad), "{bad}");
    }
}

#[test]
fn error_display_leaves_out_what_is_unknown() {
    let e = |line, key: &str| ConfigError {
        file: PathBuf::from("m.toml"),
        line,
        key: key.to_owned(),
        message: "msg".to_owned(),
    };
    assert_eq!(
        e(Some(3), "server.region").to_string(),
        "m.toml:3: server.region: msg"
    );
    assert_eq!(
        e(None, "server.region").to_string(),
        "m.toml: server.region: msg"
    );
    assert_eq!(e(Some(3), "").to_string(), "m.toml:3: msg");
    assert_eq!(e(None, "").to_string(), "m.toml: msg");
    assert_eq!(
        ConfigErrors(vec![e(Some(1), "a"), e(None, "")]).to_string(),
        "m.toml:1: a: msg\nm.toml: msg"
    );
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = std::env::temp_dir().join(format!("meridian-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("meridian.toml");
    std::fs::write(&path, "[server]\nzones_dir = \"z\"\n").unwrap();
    let c = load(&path).unwrap();
    assert_eq!(c.path, path);
    assert_eq!(c.server.zones_dir, dir.join("z"));

    std::fs::write(&path, "[server]\nudp_workers = 999\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: server.udp_workers: 999 is above the maximum 256",
            path.display()
        )
    );

    let missing = dir.join("missing.toml");
    let e = load(&missing).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].key.as_str()), (None, ""));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn syntax_errors_stop_before_the_checks() {
    // The recovered tree is a guess, so only the syntax errors are reported (all of them).
    let text = "[server]\nudp_workers = 999\nregion = \nzones_dir = \n";
    assert_eq!(
        errors(text),
        [
            "meridian.toml:3: string values must be quoted, expected literal string",
            "meridian.toml:4: string values must be quoted, expected literal string",
        ]
    );
}

#[test]
fn geoip_database_forms() {
    // (what is written, the database it means)
    let rows = [
        ("", GeoDatabase::Shipped),
        ("[geoip]\n", GeoDatabase::Shipped),
        ("[geoip]\ncountry_field = \"cc\"\n", GeoDatabase::Shipped),
        ("[geoip]\nenabled = true\n", GeoDatabase::Shipped),
        ("[geoip]\ndatabase = \"\"\n", GeoDatabase::Off),
        ("[geoip]\nenabled = false\n", GeoDatabase::Off),
        (
            "[geoip]\nenabled = false\ndatabase = \"\"\n",
            GeoDatabase::Off,
        ),
        (
            "[geoip]\ndatabase = \"geo/city.mmdb\"\n",
            GeoDatabase::File("/etc/meridian/geo/city.mmdb".into()),
        ),
        (
            "[geoip]\nenabled = true\ndatabase = \"/srv/city.mmdb\"\n",
            GeoDatabase::File("/srv/city.mmdb".into()),
        ),
    ];
    for (text, want) in rows {
        let config = parse(text, Path::new("/etc/meridian/meridian.toml"))
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(config.geoip.database, want, "{text:?}");
    }
}

#[test]
fn geoip_contradictions_are_errors() {
    let rows = [
        (
            "[geoip]\nenabled = false\ndatabase = \"city.mmdb\"\n",
            "meridian.toml:3: geoip.database: \"city.mmdb\" is set, but geoip.enabled = false: \
             remove one of the two",
        ),
        (
            "[geoip]\nenabled = true\ndatabase = \"\"\n",
            "meridian.toml:3: geoip.database: is \"\" (off), but geoip.enabled = true: leave \
             database out for the shipped one, or give a path",
        ),
        (
            "[geoip]\nenabled = \"no\"\n",
            "meridian.toml:2: geoip.enabled: invalid type: string \"no\", expected a boolean",
        ),
    ];
    for (text, want) in rows {
        assert_eq!(errors(text), [want], "{text:?}");
    }
}

#[test]
fn a_value_of_the_wrong_type_hides_no_other_error() {
    let text = "[server]\nudp_workers = \"many\"\nmax_udp_payload = 99999\n\
                tcp_idle_timeout = 5\n[fleet]\nquorum = \"most\"\n";
    assert_eq!(
        errors(text),
        [
            "meridian.toml:2: server.udp_workers: invalid type: string \"many\", expected an integer",
            "meridian.toml:3: server.max_udp_payload: 99999 is above the maximum 4096",
            "meridian.toml:4: server.tcp_idle_timeout: invalid type: integer `5`, expected a string",
            "meridian.toml:6: fleet.quorum: \"most\" is not a quorum (use \"majority\", \"regions\", \"all\", \"any\" or a number >= 1)",
        ]
    );
    // Inside an array, the whole array is refused (and its default used).
    let text = "[server]\ndns_listen = [\"127.0.0.1:53\", 5]\nudp_workers = -1\n";
    assert_eq!(
        errors(text),
        [
            "meridian.toml:2: server.dns_listen[1]: invalid type: integer `5`, expected a string",
            "meridian.toml:3: server.udp_workers: -1 is below the minimum 0",
        ]
    );
}

#[test]
fn a_refused_value_causes_no_follow_on_error() {
    // Each value is refused once; "missing", "required" and "unknown region" stay quiet.
    let rows = [
        (
            "[server]\nregion = \"eu-west\"\n[regions.eu-west]\nlat = \"north\"\nlon = 1\n",
            "meridian.toml:4: regions.eu-west.lat: invalid type: string \"north\", expected a number",
        ),
        (
            "[server]\nregion = 5\n[regions.eu-west]\nlat = 1\nlon = 1\n",
            "meridian.toml:2: server.region: invalid type: integer `5`, expected a string",
        ),
        (
            "[server]\nregion = \"eu-west\"\n[regions]\neu-west = 5\n",
            "meridian.toml:4: regions.eu-west: invalid type: integer `5`, expected a table",
        ),
        (
            "regions = 5\n[server]\nregion = \"eu-west\"\n",
            "meridian.toml:1: regions: invalid type: integer `5`, expected a table",
        ),
    ];
    for (text, want) in rows {
        assert_eq!(errors(text), [want], "{text:?}");
    }
}

#[test]
fn compile_says_what_the_rest_of_a_load_may_rely_on() {
    let path = Path::new("/etc/meridian/meridian.toml");
    let c = compile("[server]\nzones_dir = \"z\"\n", path);
    assert!(c.errors.is_empty() && c.zones_dir_known);
    assert_eq!(c.unsure_regions, UnsureRegions::default());
    assert_eq!(c.config.server.zones_dir, Path::new("/etc/meridian/z"));

    for text in [
        "[server]\nzones_dir = 5\n",
        "[server]\nzones_dir = \"\"\n",
        "server = 1\n",
    ] {
        let c = compile(text, path);
        assert_eq!(c.errors.len(), 1, "{text:?}: {:?}", c.errors);
        assert!(!c.zones_dir_known, "{text:?}");
    }

    let c = compile("regions = 5\n", path);
    assert!(c.unsure_regions.all && c.unsure_regions.contains("anything"));
    let c = compile(
        "[regions]\neu-west = 5\nus-east = { lat = 1, lon = 2 }\n",
        path,
    );
    assert!(!c.unsure_regions.all);
    assert!(c.unsure_regions.contains("eu-west"));
    assert!(!c.unsure_regions.contains("us-east"));
    assert_eq!(c.config.regions.len(), 1);
}

#[test]
fn after_a_syntax_error_the_zones_dir_is_taken_from_the_recovered_tree() {
    let path = Path::new("/etc/meridian/meridian.toml");
    // (text, zones_dir known, the dir)
    let rows = [
        (
            "[server]\nzones_dir = \"z\"\nudp_workers = = 1\n",
            true,
            "/etc/meridian/z",
        ),
        ("[server]\nudp_workers = = 1\n", true, "/etc/meridian/zones"),
        ("[server]\nzones_dir = \n", false, "/etc/meridian/zones"),
    ];
    for (text, known, dir) in rows {
        let c = compile(text, path);
        assert!(!c.errors.is_empty(), "{text:?}");
        assert!(c.errors.iter().all(|e| e.key.is_empty()), "{:?}", c.errors);
        assert_eq!(c.zones_dir_known, known, "{text:?}");
        assert_eq!(c.config.server.zones_dir, Path::new(dir), "{text:?}");
        assert!(c.unsure_regions.all, "{text:?}");
    }
}

#[test]
fn duplicate_keys_name_the_key_and_its_first_line() {
    let rows: &[(&str, &[&str])] = &[
        (
            "[server]\nregion = \"a\"\nudp_workers = 1\nregion = \"b\"\n",
            &["meridian.toml:4: server.region: duplicate key (first defined on line 2)"],
        ),
        (
            // The table is reported once, not again for each key inside it.
            "[regions.eu-west]\nlat = 1\nlon = 2\n[regions.eu-west]\nlat = 3\nlon = 4\n",
            &["meridian.toml:4: regions.eu-west: duplicate key (first defined on line 1)"],
        ),
        (
            "[fleet]\nquorum = 1\n[fleet]\nlocal_prober = false\n",
            &["meridian.toml:3: fleet: duplicate key (first defined on line 1)"],
        ),
        (
            "[regions]\neu-west = { lat = 1, lat = 2 }\n",
            &["meridian.toml:2: regions.eu-west.lat: duplicate key"],
        ),
        (
            "a = 1\nb = = 2\n",
            // One error per line: the parser's second one there is about its own recovery.
            &["meridian.toml:2: extra `=`, expected nothing"],
        ),
    ];
    for (text, want) in rows {
        assert_eq!(errors(text), *want, "{text:?}");
    }
}

#[test]
fn dnssec_key_dir_resolves_against_the_config_file() {
    // (text, config path, key_dir)
    let rows = [
        ("", "meridian.toml", "keys"),
        ("", "/etc/meridian/meridian.toml", "/etc/meridian/keys"),
        (
            "[dnssec]\nkey_dir = \"dnssec\"\n",
            "conf/meridian.toml",
            "conf/dnssec",
        ),
        (
            "[dnssec]\nkey_dir = \"/var/lib/meridian/keys\"\n",
            "meridian.toml",
            "/var/lib/meridian/keys",
        ),
    ];
    for (text, path, key_dir) in rows {
        let c = parse_at(text, path).unwrap();
        assert_eq!(c.dnssec.key_dir, Path::new(key_dir), "{text:?}");
    }
    assert_eq!(
        errors("[dnssec]\nkey_dir = \"\"\nkey_file = 1\n"),
        [
            "meridian.toml:2: dnssec.key_dir: must not be empty",
            "meridian.toml:3: dnssec.key_file: unknown key (known: key_dir, validity, refresh, backdate, jitter)"
        ]
    );
}

#[test]
fn dnssec_signature_times_are_checked_with_file_line_and_key() {
    let d = |s: u64| std::time::Duration::from_secs(s);
    // (text, validity, refresh, backdate, jitter)
    let rows = [
        ("", d(14 * 86400), d(7 * 86400), d(3600), d(3600)),
        // Only validity: refresh half of it, jitter at most a quarter of what is left.
        ("validity = \"1h\"", d(3600), d(1800), d(3600), d(450)),
        (
            "validity = \"30d\"\nrefresh = \"10d\"\nbackdate = \"0s\"\njitter = \"2h\"",
            d(30 * 86400),
            d(10 * 86400),
            d(0),
            d(7200),
        ),
    ];
    for (text, validity, refresh, backdate, jitter) in rows {
        let c = parse_at(&format!("[dnssec]\n{text}\n"), "meridian.toml").unwrap();
        let v = c.dnssec.validity;
        assert_eq!(
            (v.validity, c.dnssec.refresh, v.backdate, v.jitter),
            (validity, refresh, backdate, jitter),
            "{text:?}"
        );
    }
    assert_eq!(
        errors("[dnssec]\nvalidity = \"2d\"\nrefresh = \"3d\"\n"),
        ["meridian.toml:3: dnssec.refresh: refresh (3days) must be shorter than validity (2days)"]
    );
    assert_eq!(
        errors("[dnssec]\nvalidity = \"soon\"\n").len(),
        1,
        "a bad duration is one error"
    );
}
