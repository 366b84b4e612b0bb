//! The decision core: which addresses answer a load-balanced name.
//!
//! [`decide`] is a pure function of the service, the regions, the client and a health
//! view. No I/O, no locks, no clock, no allocation unless a [`Trace`] is asked for: unit
//! tests, `explain` and the DNS path call it alike.
//!
//! Steps: pick the candidate regions (first matching route, else all), rank them (by
//! great-circle distance, a fixed failover order, or not at all for `weighted`), give each
//! a share of the traffic (the nearest takes what its healthy capacity allows, the share it
//! lost spills to the next), then hash the client's network to pick a region and, inside
//! it, endpoints by capacity. The ECS scope says which part of the address decided it.

#[cfg(test)]
mod tests;

use crate::config::{OnAllDown, Policy, Region, Service};
use crate::geo::Location;
use std::net::IpAddr;

/// Most addresses one answer carries (also the cap on `max_answers`).
pub const MAX_ANSWERS: usize = 16;
/// Most regions a service may span.
pub const MAX_REGIONS: usize = 64;
/// Client networks that share a hash bucket: a /24 (IPv4) or /56 (IPv6) gets one answer.
pub const HASH_PREFIX_V4: u8 = 24;
pub const HASH_PREFIX_V6: u8 = 56;

/// Who is asking: the address that locates them (ECS or the resolver's own) and what the
/// geolocation database said about it.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    pub addr: IpAddr,
    /// Bits of `addr` that are meaningful: the ECS source prefix, else 32 or 128.
    pub source_prefix: u8,
    pub location: &'a Location,
}

/// An endpoint's health as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    Up,
    Down,
    /// Its region is drained by the operator: no traffic, whatever the probers say.
    Drained,
}

/// Health of one service's endpoints (same order as `service.endpoints`), and the TTL cap
/// while some state is changing.
#[derive(Debug, Clone, Copy)]
pub struct Health<'a> {
    pub endpoints: &'a [EndpointState],
    pub ttl_cap: Option<u32>,
}

/// The answer: addresses, TTL and ECS scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    addrs: [Option<IpAddr>; MAX_ANSWERS],
    pub ttl: u32,
    /// ECS SCOPE PREFIX-LENGTH: every address in the client's network of this length gets
    /// this same answer.
    pub scope: u8,
    /// The region the client's network drew (None when all were down or none served).
    pub region: Option<usize>,
}

impl Decision {
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addrs.iter().map_while(|a| *a)
    }
    pub fn is_empty(&self) -> bool {
        self.addrs[0].is_none()
    }
    fn push(&mut self, a: IpAddr) -> bool {
        match self.addrs.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(a);
                true
            }
            None => false,
        }
    }
    fn len(&self) -> usize {
        self.addrs.iter().take_while(|a| a.is_some()).count()
    }
}

/// Why the decision went the way it did (for `explain`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// Index of the route that matched, if any.
    pub route: Option<usize>,
    /// How regions were ordered: "distance", "failover order", "unknown-location list",
    /// "weighted".
    pub ranking: &'static str,
    pub regions: Vec<RegionTrace>,
    /// True when no endpoint was healthy and `on_all_down` decided.
    pub all_down: bool,
    /// The network whose hash picked among the shares, and the point it drew in [0, 1).
    pub hash_network: Option<(IpAddr, u8)>,
    pub draw: f64,
    pub picked_region: Option<usize>,
}

/// One candidate region in the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionTrace {
    pub region: usize,
    pub distance_km: Option<f64>,
    pub healthy_capacity: u64,
    pub total_capacity: u64,
    pub share: f64,
}

/// Which address family the query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn matches(self, a: &IpAddr) -> bool {
        matches!(
            (self, a),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Candidate {
    region: usize,
    distance_km: f64,
    healthy: u64,
    total: u64,
    share: f64,
}

/// Decides the answer for `service` to `client`. See the module comment for the steps.
pub fn decide(
    service: &Service,
    regions: &[Region],
    client: &Client<'_>,
    health: &Health<'_>,
    family: Family,
    mut trace: Option<&mut Trace>,
) -> Decision {
    let mut decision = Decision {
        addrs: [None; MAX_ANSWERS],
        ttl: health
            .ttl_cap
            .map_or(service.ttl, |cap| cap.min(service.ttl)),
        scope: 0,
        region: None,
    };
    let loc = client.location;
    let mut scope = 0u8;

    // 1. Candidate regions: the first matching route's, else every region with endpoints.
    let route = service
        .routes
        .iter()
        .position(|r| route_matches(r, loc, client.addr));
    scope = scope.max(route_scope(service, loc, client.addr));
    let mut cands = [Candidate::default(); MAX_REGIONS];
    let mut n = 0;
    let mut add = |region: usize, cands: &mut [Candidate; MAX_REGIONS]| {
        if n < MAX_REGIONS && !cands[..n].iter().any(|c| c.region == region) {
            cands[n].region = region;
            n += 1;
        }
    };
    match route {
        Some(r) => service.routes[r]
            .regions
            .iter()
            .for_each(|&reg| add(reg, &mut cands)),
        None => service
            .endpoints
            .iter()
            .for_each(|e| add(e.region, &mut cands)),
    }
    for c in cands[..n].iter_mut() {
        for (e, state) in service.endpoints.iter().zip(health.endpoints) {
            if e.region == c.region && family.matches(&e.address) {
                c.total += e.capacity as u64;
                if *state == EndpointState::Up {
                    c.healthy += e.capacity as u64;
                }
            }
        }
    }
    // Regions without an endpoint of this family take no part.
    let mut m = 0;
    for i in 0..n {
        if cands[i].total > 0 {
            cands[m] = cands[i];
            m += 1;
        }
    }
    let cands = &mut cands[..m];
    if let Some(t) = trace.as_deref_mut() {
        t.route = route;
    }
    if cands.is_empty() {
        decision.scope = scope.min(client.source_prefix);
        return decision; // NODATA: no endpoint of this family
    }

    // 2. Rank.
    let coords = loc.coordinates;
    let (ranking, priority) = match &service.policy {
        Policy::Nearest => match coords {
            Some((lat, lon)) => {
                for c in cands.iter_mut() {
                    c.distance_km =
                        distance_km(lat, lon, regions[c.region].lat, regions[c.region].lon);
                }
                cands.sort_by(|a, b| {
                    a.distance_km
                        .total_cmp(&b.distance_km)
                        .then(a.region.cmp(&b.region))
                });
                scope = scope.max(loc.network_prefix);
                ("distance", true)
            }
            None if !service.unknown_location.is_empty() => {
                let order = &service.unknown_location;
                cands.sort_by_key(|c| {
                    order
                        .iter()
                        .position(|&r| r == c.region)
                        .unwrap_or(usize::MAX)
                });
                scope = scope.max(loc.network_prefix);
                ("unknown-location list", true)
            }
            None => {
                scope = scope.max(loc.network_prefix);
                ("weighted", false)
            }
        },
        Policy::Failover { order } => {
            cands.sort_by_key(|c| {
                order
                    .iter()
                    .position(|&r| r == c.region)
                    .unwrap_or(usize::MAX)
            });
            ("failover order", true)
        }
        Policy::Weighted => ("weighted", false),
    };

    // 3. Shares.
    let healthy_total: u64 = cands.iter().map(|c| c.healthy).sum();
    let all_down = healthy_total == 0;
    if all_down {
        if let Some(t) = trace.as_deref_mut() {
            t.ranking = ranking;
            t.all_down = true;
            t.regions = cands.iter().map(region_trace).collect();
        }
        decision.scope = scope.min(client.source_prefix);
        if service.on_all_down == OnAllDown::NoData {
            return decision;
        }
        // Fail open: every endpoint of the candidates, as if all were healthy, except
        // those the operator drained (unless everything is drained).
        let eligible = |e: &crate::config::Endpoint| {
            family.matches(&e.address) && cands.iter().any(|c| c.region == e.region)
        };
        let any_undrained = service
            .endpoints
            .iter()
            .zip(health.endpoints)
            .any(|(e, s)| *s != EndpointState::Drained && eligible(e));
        for (e, s) in service.endpoints.iter().zip(health.endpoints) {
            if !eligible(e) || (any_undrained && *s == EndpointState::Drained) {
                continue;
            }
            if !decision.push(e.address) {
                break;
            }
        }
        return decision;
    }
    if priority {
        let overprovision = service.overprovision;
        let mut left = 1.0f64;
        for c in cands.iter_mut() {
            let healthy_fraction = c.healthy as f64 / c.total as f64;
            c.share = (healthy_fraction * overprovision).min(left);
            left -= c.share;
        }
        let assigned = 1.0 - left;
        if assigned > 0.0 && left > 1e-12 {
            cands.iter_mut().for_each(|c| c.share /= assigned);
        }
    } else {
        cands
            .iter_mut()
            .for_each(|c| c.share = c.healthy as f64 / healthy_total as f64);
    }

    // 4. Pick a region by the client network's hash.
    let hash_prefix = match client.addr {
        IpAddr::V4(_) => HASH_PREFIX_V4,
        IpAddr::V6(_) => HASH_PREFIX_V6,
    }
    .min(client.source_prefix);
    let hash_net = mask(client.addr, hash_prefix);
    let mut stream = HashStream::new(hash_net, hash_prefix, service.salt);
    let draw = stream.unit();
    let mut depends_on_hash = cands.iter().filter(|c| c.share > 0.0).count() > 1;
    let mut picked = cands.iter().rposition(|c| c.share > 0.0).unwrap_or(0);
    let mut acc = 0.0;
    for (i, c) in cands.iter().enumerate() {
        acc += c.share;
        if c.share > 0.0 && draw < acc {
            picked = i;
            break;
        }
    }

    // 5. Endpoints: weighted by capacity inside the picked region, then the next ones.
    let want = service.max_answers.clamp(1, MAX_ANSWERS);
    let order = std::iter::once(picked).chain((0..cands.len()).filter(|&i| i != picked));
    for i in order {
        if decision.len() >= want {
            break;
        }
        let region = cands[i].region;
        let up = |e: &&crate::config::Endpoint| e.region == region && family.matches(&e.address);
        let mut pool = [(0usize, 0u64); MAX_ANSWERS * 4];
        let mut k = 0;
        for (idx, (e, s)) in service.endpoints.iter().zip(health.endpoints).enumerate() {
            if up(&e) && *s == EndpointState::Up && e.capacity > 0 && k < pool.len() {
                pool[k] = (idx, e.capacity as u64);
                k += 1;
            }
        }
        let need = want - decision.len();
        if k > need {
            depends_on_hash = true;
        }
        let pool = &mut pool[..k];
        for _ in 0..need.min(k) {
            let total: u64 = pool.iter().map(|p| p.1).sum();
            if total == 0 {
                break;
            }
            let mut r = stream.next() % total;
            let j = pool.iter().position(|p| {
                if r < p.1 {
                    true
                } else {
                    r -= p.1;
                    false
                }
            });
            let j = j.unwrap_or(0);
            decision.push(service.endpoints[pool[j].0].address);
            pool[j].1 = 0;
        }
    }
    if depends_on_hash {
        scope = scope.max(hash_prefix);
    }
    decision.scope = scope.min(client.source_prefix);
    decision.region = Some(cands[picked].region);
    if let Some(t) = trace {
        t.ranking = ranking;
        t.regions = cands.iter().map(region_trace).collect();
        t.hash_network = Some((hash_net, hash_prefix));
        t.draw = draw;
        t.picked_region = Some(cands[picked].region);
    }
    decision
}

fn region_trace(c: &Candidate) -> RegionTrace {
    RegionTrace {
        region: c.region,
        distance_km: (c.distance_km > 0.0).then_some(c.distance_km),
        healthy_capacity: c.healthy,
        total_capacity: c.total,
        share: c.share,
    }
}

fn route_matches(route: &crate::config::Route, loc: &Location, addr: IpAddr) -> bool {
    route.networks.iter().any(|n| n.contains(&addr))
        || loc.country.is_some_and(|c| route.countries.contains(&c))
        || loc.continent.is_some_and(|c| route.continents.contains(&c))
}

/// The prefix length the route decision depends on: the database network when a route
/// looks at country or continent; for network routes, enough bits to stay inside (or
/// outside) each route network.
fn route_scope(service: &Service, loc: &Location, addr: IpAddr) -> u8 {
    let mut scope = 0;
    for r in &service.routes {
        if !r.countries.is_empty() || !r.continents.is_empty() {
            scope = scope.max(loc.network_prefix);
        }
        for n in &r.networks {
            if n.contains(&addr) {
                scope = scope.max(n.prefix_len());
            } else {
                let common = common_prefix(addr, n.network());
                scope = scope.max((common + 1).min(n.prefix_len()));
            }
        }
    }
    scope
}

fn common_prefix(a: IpAddr, b: IpAddr) -> u8 {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros() as u8,
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros() as u8,
        _ => 0,
    }
}

/// `addr` with every bit after `prefix` cleared.
pub fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix.min(32) as u32)
            };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix.min(128) as u32)
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// Great-circle distance (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// A deterministic stream of pseudo-random numbers seeded by the client network and the
/// service (splitmix64): the same network gets the same draws after a restart.
struct HashStream(u64);

impl HashStream {
    fn new(net: IpAddr, prefix: u8, salt: u64) -> HashStream {
        let bits = match net {
            IpAddr::V4(a) => u32::from(a) as u128,
            IpAddr::V6(a) => u128::from(a),
        };
        let seed =
            salt ^ (bits as u64) ^ ((bits >> 64) as u64).rotate_left(17) ^ ((prefix as u64) << 56);
        HashStream(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A draw in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
