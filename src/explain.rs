//! `explain`: the decision for one name and client, step by step, for people and for JSON.
//!
//! It runs [`route::decide`](crate::route::decide) with a [`Trace`], never a second implementation, and only
//! formats what the trace and the decision say.

use crate::geo::CoordinatesFrom;
use crate::route::{Client, Decision, EndpointState, Family, Trace, decide, mask};
use crate::snapshot::Snapshot;
use crate::zone::Found;
use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Everything `explain` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explanation {
    pub name: String,
    pub qtype: String,
    /// Which endpoint health the decision used: the server's live view, a saved file, or
    /// none (all up).
    #[serde(default)]
    pub health: String,
    /// `None` for a name answered from the zone file.
    pub service: Option<ServiceInfo>,
    pub client: ClientInfo,
    pub location: LocationInfo,
    pub route: Option<String>,
    pub ranking: String,
    /// `policy = "latency"`: the viewpoint whose smoothed RTTs ranked the regions (none
    /// when no viewpoint measured, and the ranking fell back to distance).
    #[serde(default)]
    pub viewpoint: Option<ViewpointInfo>,
    pub regions: Vec<RegionInfo>,
    pub all_down: bool,
    /// What the service answers when every candidate is down: `all` (fail open),
    /// `nodata`, or `fallback` (then `fallback` lists the addresses).
    #[serde(default)]
    pub on_all_down: String,
    /// `on_all_down = { fallback = [...] }`: its addresses, both families.
    #[serde(default)]
    pub fallback: Vec<IpAddr>,
    /// `on_all_down = { cname = ... }`: the target; when the answer is this CNAME,
    /// `answer_cname` says so.
    #[serde(default)]
    pub fallback_cname: Option<String>,
    /// The answer is a CNAME to this name (the fallback), not addresses.
    #[serde(default)]
    pub answer_cname: Option<String>,
    /// The client network whose hash ranks the endpoints.
    pub hash_network: Option<String>,
    pub picked_region: Option<String>,
    pub answer: Vec<IpAddr>,
    pub ttl: u32,
    pub ecs_scope: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub defined_at: String,
    pub policy: String,
    pub max_answers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInfo {
    pub address: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocationInfo {
    pub country: Option<String>,
    pub continent: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub coordinates_from: String,
    /// The database network that matched.
    pub network: String,
    pub database: Option<String>,
}

/// The viewpoint that decided a `latency` ranking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViewpointInfo {
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Its distance from the client's coordinates.
    pub distance_km: f64,
    /// Its ranking: (region, smoothed RTT in ms), the region it chose first.
    pub regions: Vec<(String, f64)>,
    /// What another region must beat the chosen one by, both: percent and ms.
    pub switch_percent: u32,
    pub switch_ms: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegionInfo {
    pub region: String,
    pub distance_km: Option<f64>,
    /// The service's geoproximity bias for the region (0: none).
    #[serde(default)]
    pub bias: i32,
    /// `distance_km × (1 − bias/100)`: the distance the ranking compared.
    #[serde(default)]
    pub effective_km: Option<f64>,
    pub healthy_capacity: u64,
    /// Healthy capacity less what reported load sheds (`shed_load`).
    #[serde(default)]
    pub effective_capacity: f64,
    pub total_capacity: u64,
    /// `latency`: the region's smoothed RTT from the deciding viewpoint (ms).
    #[serde(default)]
    pub rtt_ms: Option<f64>,
    pub share: f64,
    /// Fraction of the client networks reaching this region that it keeps.
    #[serde(default)]
    pub keep: f64,
    /// This client network's best-ranked endpoint in the region, up or not.
    #[serde(default)]
    pub first_choice: Option<IpAddr>,
    /// What the region did with this client network.
    #[serde(default)]
    pub outcome: String,
    pub endpoints: Vec<EndpointInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointInfo {
    pub address: IpAddr,
    pub capacity: u32,
    /// `capacity` × its load factor: less than `capacity` while it reports a load above
    /// the service's `shed_load.low`.
    #[serde(default)]
    pub effective_capacity: f64,
    pub state: String,
}

/// Why a name cannot be explained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error("{0:?} is not a domain name")]
    BadName(String),
    #[error("{0} is in none of the zones served")]
    NotOurs(String),
    #[error("{0} is not load-balanced: it is answered from its zone file")]
    Static(String),
}

fn code(c: Option<[u8; 2]>) -> Option<String> {
    c.map(|c| String::from_utf8_lossy(&c).into_owned())
}

/// What [`Explanation::health`] says by default: the snapshot's own health, which in the
/// server is its live view. A caller that loaded health elsewhere says so instead.
pub const LIVE_HEALTH: &str = "live: the server's current view";

/// Explains the answer to `name` (`family` A or AAAA) for a client at `addr`/`prefix`.
pub fn explain(
    snap: &Snapshot,
    name: &str,
    family: Family,
    addr: IpAddr,
    prefix: u8,
) -> Result<Explanation, ExplainError> {
    let fqdn = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    let parsed = Name::from_ascii(&fqdn).map_err(|_| ExplainError::BadName(name.to_string()))?;
    let key = crate::answer::name_key(&parsed);
    let qtype = if family == Family::V6 { 28 } else { 1 };
    let service = match snap.zones.lookup(&key, qtype) {
        None => return Err(ExplainError::NotOurs(fqdn)),
        Some((_, Found::Answer(_) | Found::Dname { .. })) => {
            return Err(ExplainError::Static(fqdn));
        }
        Some((_, Found::Balanced { service, .. })) => service as usize,
    };
    let addr = mask(addr, prefix);
    let location = snap.locate(addr);
    let client = Client {
        addr,
        source_prefix: prefix,
        location: &location,
    };
    let svc = &snap.services[service];
    let health = snap.health.service(service);
    let mut trace = Trace::default();
    let decision: Decision = decide(
        svc,
        &snap.config.regions,
        &client,
        &health,
        family,
        Some(&mut trace),
    );
    let region_name = |i: usize| snap.config.regions[i].name.clone();
    let regions = trace
        .regions
        .iter()
        .map(|r| RegionInfo {
            region: region_name(r.region),
            distance_km: r.distance_km.map(|d| (d * 10.0).round() / 10.0),
            bias: r.bias,
            effective_km: r.effective_km.map(|d| (d * 10.0).round() / 10.0),
            healthy_capacity: r.healthy_capacity,
            effective_capacity: round2(r.effective_capacity),
            total_capacity: r.total_capacity,
            rtt_ms: r.rtt_ms.map(round2),
            share: r.share,
            keep: r.keep,
            first_choice: r.first_choice,
            outcome: r.outcome.describe().into(),
            endpoints: svc
                .endpoints
                .iter()
                .zip(health.endpoints)
                .enumerate()
                .filter(|(_, (e, _))| e.region == r.region && family.matches(&e.address))
                .map(|(ei, (e, s))| EndpointInfo {
                    address: e.address,
                    capacity: e.capacity,
                    effective_capacity: round2(e.capacity as f64 * health.capacity_factor(ei)),
                    state: match s {
                        EndpointState::Up => "up",
                        EndpointState::Down => "down",
                        EndpointState::Drained => "drained",
                    }
                    .into(),
                })
                .collect(),
        })
        .collect();
    let route = trace.route.map(|i| {
        let r = &svc.routes[i];
        let mut what = Vec::new();
        if !r.networks.is_empty() {
            what.push(format!(
                "networks {}",
                r.networks
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !r.countries.is_empty() {
            what.push(format!(
                "countries {}",
                r.countries
                    .iter()
                    .filter_map(|c| code(Some(*c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !r.continents.is_empty() {
            what.push(format!(
                "continents {}",
                r.continents
                    .iter()
                    .filter_map(|c| code(Some(*c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let regions: Vec<String> = r.regions.iter().map(|&i| region_name(i)).collect();
        format!(
            "route #{} ({}:{}): {} -> {}",
            i + 1,
            svc.file.display(),
            r.line,
            what.join("; "),
            regions.join(", ")
        )
    });
    Ok(Explanation {
        name: svc.name.to_ascii(),
        qtype: if family == Family::V6 { "AAAA" } else { "A" }.into(),
        health: LIVE_HEALTH.into(),
        service: Some(ServiceInfo {
            name: svc.name.to_ascii(),
            defined_at: format!("{}:{}", svc.file.display(), svc.line),
            policy: svc.policy.word().into(),
            max_answers: svc.max_answers,
        }),
        client: ClientInfo {
            address: addr,
            prefix,
        },
        location: LocationInfo {
            country: code(location.country),
            continent: code(location.continent),
            latitude: location.coordinates.map(|c| c.0),
            longitude: location.coordinates.map(|c| c.1),
            coordinates_from: match location.coordinates_from {
                CoordinatesFrom::Record => "database record",
                CoordinatesFrom::CountryCentroid => "country centroid",
                CoordinatesFrom::ContinentCentroid => "continent centroid",
                CoordinatesFrom::None => "none",
            }
            .into(),
            network: format!(
                "{}/{}",
                mask(addr, location.network_prefix),
                location.network_prefix
            ),
            database: snap.geo.as_ref().map(|g| g.db.path.display().to_string()),
        },
        route,
        ranking: trace.ranking.into(),
        viewpoint: trace.viewpoint.map(|vi| {
            let v = &health.viewpoints[vi];
            let switch = match svc.policy {
                crate::config::Policy::Latency { switch } => switch,
                _ => Default::default(),
            };
            ViewpointInfo {
                name: v.name.clone(),
                latitude: v.lat,
                longitude: v.lon,
                distance_km: location.coordinates.map_or(0.0, |(lat, lon)| {
                    (crate::route::distance_km(lat, lon, v.lat, v.lon) * 10.0).round() / 10.0
                }),
                regions: v
                    .regions
                    .iter()
                    .map(|r| (region_name(r.region), round2(r.rtt_ms)))
                    .collect(),
                switch_percent: switch.percent,
                switch_ms: switch.ms,
            }
        }),
        regions,
        all_down: trace.all_down,
        on_all_down: svc.on_all_down.word().into(),
        fallback: match &svc.on_all_down {
            crate::config::OnAllDown::Fallback(addrs) => addrs.clone(),
            _ => Vec::new(),
        },
        fallback_cname: match &svc.on_all_down {
            crate::config::OnAllDown::Cname(n) => Some(n.to_ascii()),
            _ => None,
        },
        answer_cname: match &svc.on_all_down {
            crate::config::OnAllDown::Cname(n) if decision.cname => Some(n.to_ascii()),
            _ => None,
        },
        hash_network: trace.hash_network.map(|(a, p)| format!("{a}/{p}")),
        picked_region: trace.picked_region.map(region_name),
        answer: decision.addresses().collect(),
        ttl: decision.ttl,
        ecs_scope: decision.scope,
    })
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "name:      {} {}", self.name, self.qtype)?;
        if let Some(s) = &self.service {
            writeln!(
                f,
                "service:   policy {}, max_answers {} ({})",
                s.policy, s.max_answers, s.defined_at
            )?;
        }
        writeln!(
            f,
            "client:    {}/{}",
            self.client.address, self.client.prefix
        )?;
        let l = &self.location;
        let place = match (&l.country, &l.continent) {
            (Some(c), Some(k)) => format!("{c}, {k}"),
            (None, Some(k)) => k.clone(),
            (Some(c), None) => c.clone(),
            (None, None) => "unknown".into(),
        };
        let coords = match (l.latitude, l.longitude) {
            (Some(a), Some(o)) => format!(" at {a:.2}, {o:.2} ({})", l.coordinates_from),
            _ => " (no coordinates)".into(),
        };
        match l.database.as_deref() {
            Some(db) => writeln!(
                f,
                "location:  {place}{coords}; database network {} in {db}",
                l.network
            )?,
            None => writeln!(f, "location:  {place}{coords}; geolocation is off")?,
        }
        writeln!(f, "health:    {}", self.health)?;
        writeln!(
            f,
            "route:     {}",
            self.route.as_deref().unwrap_or("no route matched")
        )?;
        writeln!(f, "ranking:   {}", self.ranking)?;
        if let Some(v) = &self.viewpoint {
            let rtts: Vec<String> = v
                .regions
                .iter()
                .map(|(r, ms)| format!("{r} {ms:.1} ms"))
                .collect();
            writeln!(
                f,
                "viewpoint: {} at {:.2}, {:.2} ({:.0} km away): {} (first is its choice; \
                 another takes over when faster by {}% and {} ms)",
                v.name,
                v.latitude,
                v.longitude,
                v.distance_km,
                rtts.join(", "),
                v.switch_percent,
                v.switch_ms
            )?;
        }
        for (i, r) in self.regions.iter().enumerate() {
            let dist = r
                .distance_km
                .map_or(String::from("-"), |d| format!("{d:.0} km"));
            // A biased region shows what the ranking compared.
            let biased = match (r.bias, r.effective_km) {
                (0, _) => String::new(),
                (b, Some(e)) => format!("  bias {b:+} -> {e:.0} km"),
                (b, None) => format!("  bias {b:+}"),
            };
            let picked = if self.picked_region.as_deref() == Some(&r.region) {
                "  <- picked"
            } else {
                ""
            };
            let rtt = r
                .rtt_ms
                .map_or(String::new(), |ms| format!("  rtt {ms:.1} ms"));
            let effective = if (r.effective_capacity - r.healthy_capacity as f64).abs() >= 0.01 {
                format!(" (effective {:.1}: load)", r.effective_capacity)
            } else {
                String::new()
            };
            writeln!(
                f,
                "  {}. {:<14} {:>9}{biased}{rtt}  capacity {}/{} healthy{effective}  share {:>5.1}%{picked}",
                i + 1,
                r.region,
                dist,
                r.healthy_capacity,
                r.total_capacity,
                r.share * 100.0
            )?;
            for e in &r.endpoints {
                let first = if r.first_choice == Some(e.address) {
                    "  <- first choice"
                } else {
                    ""
                };
                let effective = if (e.effective_capacity - e.capacity as f64).abs() >= 0.01 {
                    format!(" (effective {:.1}: sheds load)", e.effective_capacity)
                } else {
                    String::new()
                };
                writeln!(
                    f,
                    "       {} capacity {}{effective} {}{first}",
                    e.address, e.capacity, e.state
                )?;
            }
            if !r.outcome.is_empty() && r.outcome != "not reached" {
                writeln!(f, "       -> {}", r.outcome)?;
            }
        }
        if self.all_down {
            let what = match self.on_all_down.as_str() {
                "nodata" => "on_all_down = \"nodata\": NODATA".to_string(),
                "fallback" => match &self.fallback_cname {
                    Some(target) => format!("on_all_down = fallback: CNAME {target}"),
                    None => {
                        let list: Vec<String> =
                            self.fallback.iter().map(|a| a.to_string()).collect();
                        format!("on_all_down = fallback: {}", list.join(", "))
                    }
                },
                _ => "on_all_down = \"all\": every candidate (fail open)".to_string(),
            };
            writeln!(f, "all down:  no endpoint is healthy: {what}")?;
        }
        if let Some(h) = &self.hash_network {
            writeln!(f, "hash:      {h} ranks the endpoints (rendezvous)")?;
        }
        let answer: Vec<String> = self.answer.iter().map(|a| a.to_string()).collect();
        writeln!(
            f,
            "answer:    {}",
            if let Some(target) = &self.answer_cname {
                format!("CNAME {target}")
            } else if answer.is_empty() {
                "NODATA".into()
            } else {
                answer.join(", ")
            }
        )?;
        writeln!(f, "ttl:       {}", self.ttl)?;
        write!(f, "ecs scope: /{}", self.ecs_scope)
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Parses a client given as `IP` or `IP/PREFIX` (as `explain` takes it).
pub fn parse_client(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = ip
        .parse()
        .map_err(|_| format!("client {s:?}: not an IP address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(p) if p <= max => p,
            _ => return Err(format!("client {s:?}: prefix must be 0..={max}")),
        },
    };
    Ok((addr, prefix))
}
