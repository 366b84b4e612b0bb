//! The decision core: which addresses answer a load-balanced name.
//!
//! [`decide`] is a pure function of the service, the regions, the client and a health
//! view. No I/O, no locks, no clock, no allocation unless a [`Trace`] is asked for: unit
//! tests, `explain` and the DNS path call it alike. It reads the config and the client's
//! location; health comes in as a [`Health`] view (this module knows no snapshot, zone or
//! health store).
//!
//! Steps (one function each; [`decide`] calls them in order):
//! 1. `candidates`: the first matching route's regions, else every region with an
//!    endpoint of the family; each with its healthy and total capacity.
//! 2. `rank`: by great-circle distance (compared as chord lengths between points
//!    precomputed on the unit sphere: no trigonometry per region), a fixed failover
//!    order, or none (`weighted`). A service with a geoproximity `bias` compares
//!    `distance × (1 − bias/100)` instead (one `asin` per region, for such services only).
//!    `latency`: the order the client's nearest viewpoint's smoothed RTTs give (computed
//!    with its anti-flap hold when the health view was built, see [`ViewpointRanking`]),
//!    unmeasured regions after by distance; no measurement at all: as `nearest`.
//! 3. `shares`: the nearest region keeps what its *effective* healthy capacity allows
//!    (× `overprovision`), the share it lost spills to the next; for `weighted`, shares by
//!    effective healthy capacity. Effective capacity is capacity × the endpoint's
//!    load factor (`shed_load`: 1 unless it reports a high load). When nothing is healthy, `fail_open` decides (`on_all_down`:
//!    every candidate, NODATA, or the fallback addresses).
//! 4. `pick_region`: the client network's own ranking of the endpoints decides which
//!    region keeps it (see "Minimal disruption").
//! 5. `pick_endpoints`: the top `max_answers` healthy endpoints of that ranking, the
//!    picked region first, then the next regions.
//! 6. `ttl_of` and `scope_of`: the TTL (capped while health changes) and the ECS
//!    scope, the part of the address the answer depended on.
//!
//! # Minimal disruption
//! Each client network (its /24 or /56, or the ECS prefix when shorter) ranks every
//! endpoint by weighted rendezvous hashing: `score = -ln(u) / capacity`, `u` a hash of the
//! network, the service salt and the endpoint's *address* (not its place in the config),
//! lowest first. Inside a region the network's first choice is its best-ranked endpoint,
//! up or not. Walking the regions in rank order, a region keeps the networks whose first
//! choice there is up (and, when that endpoint sheds load, whose per-endpoint draw falls
//! inside its load factor: a loaded endpoint sheds a fixed, growing set of networks); when overprovisioning lets it keep more than its healthy fraction,
//! it keeps that much more of the others (by a per-network, per-region draw); the rest
//! walk on. A kept network gets its best-ranked *healthy* endpoint there. So when an
//! endpoint fails only its networks move (to their next choice, spread by capacity), a
//! region losing an endpoint spills that endpoint's networks, and on recovery they come
//! back to exactly their earlier pick.

#[cfg(test)]
mod tests;

use crate::config::LatencySwitch;
use crate::config::{Endpoint, OnAllDown, Policy, Position, Region, Service};
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
    /// Effective capacity ÷ capacity per endpoint (same order), from the load it reports
    /// (`shed_load`); empty when every endpoint keeps its whole capacity.
    pub capacity_factors: &'a [f64],
    /// `policy = "latency"`: each viewpoint's ranking of the service's regions.
    pub viewpoints: &'a [ViewpointRanking],
}

impl Health<'_> {
    /// The endpoint's effective capacity ÷ its capacity.
    pub fn capacity_factor(&self, endpoint: usize) -> f64 {
        self.capacity_factors.get(endpoint).copied().unwrap_or(1.0)
    }
}

/// One viewpoint (probers at one place) as `policy = "latency"` sees it: where it is, and
/// the service's regions ordered by the smoothed RTT it measured. The first is the region
/// it *chose*: the fastest, unless the one chosen before is within the service's
/// [`LatencySwitch`] of it (see [`order_by_rtt`]). Built by the health task when health
/// changes, never on the query path.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewpointRanking {
    /// The viewpoint's name (names joined by `+` when several share the place).
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub position: Position,
    /// Regions with a measurement: the chosen one first, the rest by RTT.
    pub regions: Vec<RegionRtt>,
}

/// A region's smoothed RTT from one viewpoint: the lowest of its healthy endpoints'.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionRtt {
    pub region: usize,
    pub rtt_ms: f64,
}

/// The regions of `measured` (region, smoothed RTT; any order) ranked for one viewpoint:
/// by RTT (ties by region index), except that `previous`, the region chosen first last
/// time, stays first unless the fastest is better by both `switch.percent` percent of the
/// previous one's RTT and `switch.ms`. Pure: the health task calls it with the last
/// published choice.
pub fn order_by_rtt(
    measured: &[RegionRtt],
    previous: Option<usize>,
    switch: LatencySwitch,
) -> Vec<RegionRtt> {
    let mut out = measured.to_vec();
    out.sort_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms).then(a.region.cmp(&b.region)));
    let Some(best) = out.first().copied() else {
        return out;
    };
    if let Some(at) = previous.and_then(|p| out.iter().position(|r| r.region == p)) {
        let held = out[at];
        let gain = held.rtt_ms - best.rtt_ms;
        let needed = (held.rtt_ms * switch.percent as f64 / 100.0).max(switch.ms as f64);
        if gain < needed {
            out.remove(at);
            out.insert(0, held);
        }
    }
    out
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
    /// Every candidate is down and `on_all_down = { cname = ... }`: the answer is that
    /// CNAME (no addresses).
    pub cname: bool,
}

impl Decision {
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addrs.iter().map_while(|a| *a)
    }
    pub fn is_empty(&self) -> bool {
        self.addrs[0].is_none()
    }
    /// A decision made of its parts (what a memo of decisions gives back): at most
    /// [`MAX_ANSWERS`] addresses, the rest dropped.
    pub fn from_parts(
        addrs: &[IpAddr],
        ttl: u32,
        scope: u8,
        region: Option<usize>,
        cname: bool,
    ) -> Decision {
        let mut d = Decision {
            addrs: [None; MAX_ANSWERS],
            ttl,
            scope,
            region,
            cname,
        };
        for (slot, a) in d.addrs.iter_mut().zip(addrs) {
            *slot = Some(*a);
        }
        d
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
    pub fn len(&self) -> usize {
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
    /// The network whose hash ranks the endpoints.
    pub hash_network: Option<(IpAddr, u8)>,
    pub picked_region: Option<usize>,
    /// `latency`: the viewpoint whose RTTs ranked the regions (index into the health
    /// view's `viewpoints`), when one did.
    pub viewpoint: Option<usize>,
}

/// One candidate region in the trace.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionTrace {
    pub region: usize,
    pub distance_km: Option<f64>,
    /// The service's geoproximity bias for the region (0: none).
    pub bias: i32,
    /// `distance_km × (1 − bias/100)`: what the ranking compared (distance ranking only).
    pub effective_km: Option<f64>,
    pub healthy_capacity: u64,
    /// Healthy capacity less what reported load sheds (`shed_load`).
    pub effective_capacity: f64,
    pub total_capacity: u64,
    /// `latency`: the region's smoothed RTT from the deciding viewpoint.
    pub rtt_ms: Option<f64>,
    /// Fraction of all client networks this region answers.
    pub share: f64,
    /// Fraction of the client networks reaching this region that it keeps (priority
    /// rankings; 0 for `weighted`).
    pub keep: f64,
    /// This client network's best-ranked endpoint in the region, up or not (priority
    /// rankings, regions the walk reached).
    pub first_choice: Option<IpAddr>,
    /// What the region did with this client network.
    pub outcome: Outcome,
}

/// What a region did with the client network (step 4, `pick_region`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outcome {
    /// The walk stopped before this region.
    #[default]
    NotReached,
    /// Kept: its first choice here is up.
    FirstChoiceUp,
    /// Kept although its first choice is down: overprovisioning lets the region keep more
    /// than its healthy fraction.
    Overprovisioned,
    /// Its first choice here is down or drained: walked on.
    PassedOn,
    /// Its first choice here is up but sheds load, and this network is among those it
    /// sheds: walked on.
    Shed,
    /// No region kept it (all short of capacity): its best-ranked healthy endpoint of all,
    /// weighted by the regions' shares, is here.
    Leftover,
    /// `weighted`: its best-ranked healthy endpoint of all regions is here.
    BestOfAll,
}

impl Outcome {
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::NotReached => "not reached",
            Outcome::FirstChoiceUp => "kept: first choice is up",
            Outcome::Overprovisioned => "kept: first choice is down, overprovision keeps it",
            Outcome::PassedOn => "passed on: first choice is down or drained",
            Outcome::Shed => "passed on: first choice is up but sheds load",
            Outcome::Leftover => "kept: no region had room, best healthy by share",
            Outcome::BestOfAll => "kept: best-ranked healthy endpoint of all",
        }
    }
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
    /// Ranking `distance` only, lower first: the squared chord distance from the client,
    /// or, when the service has a bias, the biased angle (see `rank`).
    rank_key: f64,
    /// Great-circle distance from the client, for the trace only.
    distance_km: f64,
    /// The region's geoproximity bias in this service (0: none).
    bias: i32,
    healthy: u64,
    /// `healthy` less what reported load sheds: Σ capacity × load factor of the up ones.
    effective: f64,
    total: u64,
    /// `latency`: the region's smoothed RTT from the deciding viewpoint.
    rtt_ms: Option<f64>,
    /// Fraction of all client networks this region answers.
    share: f64,
    /// Priority policies: fraction of the client networks reaching it that it keeps.
    keep: f64,
    /// The client network's best-ranked endpoint here (index into `service.endpoints`).
    first_choice: Option<usize>,
    outcome: Outcome,
}

/// How step 2 ordered the candidates, and whether that order is a priority (the first
/// keeps what it can, the rest spills on) or not (`weighted`: shares by capacity).
#[derive(Debug, Clone, Copy)]
struct Ranking {
    name: &'static str,
    priority: bool,
    /// Ordered by distance from the client (the trace then shows each distance).
    by_distance: bool,
    /// `latency`: the viewpoint whose RTTs ordered the regions.
    viewpoint: Option<usize>,
}

/// Room for this many candidates is made on the stack when a service cannot have more
/// (most span a few regions); clearing room for [`MAX_REGIONS`] of them costs more than
/// ranking a few.
const FEW_REGIONS: usize = 16;

/// Decides the answer for `service` to `client`: the steps of the module comment, in order.
pub fn decide(
    service: &Service,
    regions: &[Region],
    client: &Client<'_>,
    health: &Health<'_>,
    family: Family,
    trace: Option<&mut Trace>,
) -> Decision {
    // Candidates are a route's regions or the endpoints' regions: no more than either.
    let most = service
        .routes
        .iter()
        .map(|r| r.regions.len())
        .fold(service.endpoints.len(), usize::max);
    if most <= FEW_REGIONS {
        let storage = &mut [Candidate::default(); FEW_REGIONS];
        decide_among(storage, service, regions, client, health, family, trace)
    } else {
        let storage = &mut [Candidate::default(); MAX_REGIONS];
        decide_among(storage, service, regions, client, health, family, trace)
    }
}

/// [`decide`], with room for the candidates in `storage`.
fn decide_among(
    storage: &mut [Candidate],
    service: &Service,
    regions: &[Region],
    client: &Client<'_>,
    health: &Health<'_>,
    family: Family,
    mut trace: Option<&mut Trace>,
) -> Decision {
    let mut decision = Decision {
        addrs: [None; MAX_ANSWERS],
        ttl: ttl_of(service, health),
        scope: 0,
        region: None,
        cname: false,
    };
    let mut scope = route_scope(service, client.location, client.addr);

    // 1. Candidate regions.
    let (route, n) = candidates(service, client, health, family, storage);
    let cands = &mut storage[..n];
    if let Some(t) = trace.as_deref_mut() {
        t.route = route;
    }
    if cands.is_empty() {
        decision.scope = scope.min(client.source_prefix);
        return decision; // NODATA: no endpoint of this family
    }

    // 2. Rank.
    let ranking = rank(service, regions, health, client.location, cands, &mut scope);

    if trace.is_some() && ranking.by_distance {
        measure_distances(regions, client.location, cands);
    }
    if let Some(t) = trace.as_deref_mut() {
        t.viewpoint = ranking.viewpoint;
    }

    // 3. Shares; when nothing is healthy, `on_all_down` decides.
    if cands.iter().all(|c| c.healthy == 0) {
        if let Some(t) = trace.as_deref_mut() {
            t.ranking = ranking.name;
            t.all_down = true;
            t.regions = cands.iter().map(|c| region_trace(service, c)).collect();
        }
        decision.scope = scope.min(client.source_prefix);
        fail_open(service, health, family, cands, &mut decision);
        return decision;
    }
    shares(service, ranking, cands);

    // 4. The region, by the client network's ranking of the endpoints.
    let net = NetworkHash::of(client, service.salt);
    let picked = pick_region(service, regions, health, family, ranking, &net, cands);

    // 5. Endpoints: the top of the same ranking, picked region first.
    let want = service.max_answers.clamp(1, MAX_ANSWERS);
    let more_than_taken = pick_endpoints(
        service,
        health,
        family,
        &net,
        cands,
        picked,
        want,
        &mut decision,
    );

    // 6. ECS scope (the TTL was set at the start).
    let several_regions = cands.iter().filter(|c| c.share > 0.0).count() > 1;
    decision.scope = scope_of(scope, several_regions || more_than_taken, &net, client);
    decision.region = Some(cands[picked].region);
    if let Some(t) = trace {
        t.ranking = ranking.name;
        t.regions = cands.iter().map(|c| region_trace(service, c)).collect();
        t.hash_network = Some((net.network, net.prefix));
        t.picked_region = Some(cands[picked].region);
    }
    decision
}

/// Step 6, TTL: the service's, capped while some endpoint's state is changing.
fn ttl_of(service: &Service, health: &Health<'_>) -> u32 {
    health
        .ttl_cap
        .map_or(service.ttl, |cap| cap.min(service.ttl))
}

/// Step 1: the candidate regions: the first matching route's (in its order), else every
/// region with an endpoint (in config order), each with its total and healthy capacity of
/// `family`. Regions without an endpoint of the family take no part; at most
/// `out.len()` (or [`MAX_REGIONS`]) regions do. Returns the index of the route that
/// matched and how many candidates `out` holds.
fn candidates(
    service: &Service,
    client: &Client<'_>,
    health: &Health<'_>,
    family: Family,
    out: &mut [Candidate],
) -> (Option<usize>, usize) {
    let route = service
        .routes
        .iter()
        .position(|r| route_matches(r, client.location, client.addr));
    let room = out.len().min(MAX_REGIONS);
    let mut n = 0;
    if let Some(r) = route {
        for &region in &service.routes[r].regions {
            if n < room && !out[..n].iter().any(|c| c.region == region) {
                out[n].region = region;
                n += 1;
            }
        }
    }
    // One pass over the endpoints, each counted in its region's candidate: the search
    // starts at the previous endpoint's (a region's endpoints usually stand together).
    // Without a route, an endpoint of a region not seen yet makes its candidate.
    let mut last = 0;
    for (ei, (e, state)) in service.endpoints.iter().zip(health.endpoints).enumerate() {
        let i = if last < n && out[last].region == e.region {
            last
        } else if let Some(i) = out[..n].iter().position(|c| c.region == e.region) {
            i
        } else if route.is_none() && n < room {
            out[n].region = e.region;
            n += 1;
            n - 1
        } else {
            continue;
        };
        last = i;
        if family.matches(&e.address) {
            out[i].total += e.capacity as u64;
            if *state == EndpointState::Up {
                out[i].healthy += e.capacity as u64;
                out[i].effective += e.capacity as f64 * health.capacity_factor(ei);
            }
        }
    }
    let mut m = 0;
    for i in 0..n {
        if out[i].total > 0 {
            if m != i {
                out[m] = out[i];
            }
            m += 1;
        }
    }
    (route, m)
}

/// Step 2: orders the candidates. `nearest` with coordinates: by great-circle distance
/// (ties by config order); without: the `unknown_location` list, else no order
/// (`weighted`). `failover`: its fixed order. `latency`: the order of the viewpoint
/// nearest the client (see [`rank_by_rtt`]), else as `nearest`. Raises `scope` to the
/// database network when the location decided.
fn rank(
    service: &Service,
    regions: &[Region],
    health: &Health<'_>,
    loc: &Location,
    cands: &mut [Candidate],
    scope: &mut u8,
) -> Ranking {
    if let Policy::Latency { .. } = service.policy
        && let Some(viewpoint) = rank_by_rtt(regions, health, loc, cands)
    {
        *scope = (*scope).max(loc.network_prefix);
        return Ranking {
            name: "latency",
            priority: true,
            by_distance: true,
            viewpoint: Some(viewpoint),
        };
    }
    let by_list = |cands: &mut [Candidate], order: &[usize]| {
        cands.sort_by_key(|c| {
            order
                .iter()
                .position(|&r| r == c.region)
                .unwrap_or(usize::MAX)
        })
    };
    let (name, priority, by_distance) = match &service.policy {
        Policy::Nearest | Policy::Latency { .. } => {
            *scope = (*scope).max(loc.network_prefix);
            match loc.coordinates {
                Some((lat, lon)) => {
                    let here = loc.position.unwrap_or_else(|| Position::of(lat, lon));
                    for c in cands.iter_mut() {
                        c.rank_key = here.chord_squared(&regions[c.region].position);
                    }
                    if !service.bias.is_empty() {
                        // The chord is not proportional to the distance: scale the
                        // angle (distance on the unit sphere) instead.
                        for c in cands.iter_mut() {
                            c.bias = service.bias_of(c.region);
                            let angle = 2.0 * (c.rank_key.sqrt() / 2.0).min(1.0).asin();
                            c.rank_key = angle * bias_factor(c.bias);
                        }
                    }
                    cands.sort_by(|a, b| {
                        a.rank_key
                            .total_cmp(&b.rank_key)
                            .then(a.region.cmp(&b.region))
                    });
                    ("distance", true, true)
                }
                None if !service.unknown_location.is_empty() => {
                    by_list(cands, &service.unknown_location);
                    ("unknown-location list", true, false)
                }
                None => ("weighted", false, false),
            }
        }
        Policy::Failover { order } => {
            by_list(cands, order);
            ("failover order", true, false)
        }
        Policy::Weighted => ("weighted", false, false),
    };
    Ranking {
        name,
        priority,
        by_distance,
        viewpoint: None,
    }
}

/// `latency`, step 2: the viewpoint nearest the client that measured any region (by chord,
/// ties by order) ranks the candidates: its measured regions in its order, then the
/// unmeasured ones by distance from the client. `None` (rank as `nearest`) when the client
/// has no coordinates or no viewpoint measured a candidate.
fn rank_by_rtt(
    regions: &[Region],
    health: &Health<'_>,
    loc: &Location,
    cands: &mut [Candidate],
) -> Option<usize> {
    let (lat, lon) = loc.coordinates?;
    let here = loc.position.unwrap_or_else(|| Position::of(lat, lon));
    let mut nearest: Option<(f64, usize)> = None;
    for (i, v) in health.viewpoints.iter().enumerate() {
        let measures_one = v
            .regions
            .iter()
            .any(|r| cands.iter().any(|c| c.region == r.region));
        if !measures_one {
            continue;
        }
        let d = here.chord_squared(&v.position);
        if nearest.is_none_or(|(b, _)| d < b) {
            nearest = Some((d, i));
        }
    }
    let (_, vi) = nearest?;
    let order = &health.viewpoints[vi].regions;
    for c in cands.iter_mut() {
        match order.iter().position(|r| r.region == c.region) {
            Some(at) => {
                c.rank_key = at as f64;
                c.rtt_ms = Some(order[at].rtt_ms);
            }
            // After every measured one (chords are at most 2, squared 4).
            None => {
                c.rank_key = order.len() as f64 + here.chord_squared(&regions[c.region].position)
            }
        }
    }
    cands.sort_by(|a, b| {
        a.rank_key
            .total_cmp(&b.rank_key)
            .then(a.region.cmp(&b.region))
    });
    Some(vi)
}

/// What a bias does to a distance: `1 − bias/100`.
fn bias_factor(bias: i32) -> f64 {
    1.0 - bias as f64 / 100.0
}

/// Each candidate's great-circle distance from the client, for the trace.
fn measure_distances(regions: &[Region], loc: &Location, cands: &mut [Candidate]) {
    if let Some((lat, lon)) = loc.coordinates {
        for c in cands.iter_mut() {
            let r = &regions[c.region];
            c.distance_km = distance_km(lat, lon, r.lat, r.lon);
        }
    }
}

/// Step 3 when no candidate has healthy capacity: `on_all_down = "nodata"` answers
/// nothing; a fallback answers its addresses of the family (nothing when it has none);
/// failing open answers every endpoint of the candidates as if all were healthy, except
/// those the operator drained (unless everything is drained).
fn fail_open(
    service: &Service,
    health: &Health<'_>,
    family: Family,
    cands: &[Candidate],
    decision: &mut Decision,
) {
    match &service.on_all_down {
        OnAllDown::NoData => return,
        OnAllDown::Fallback(addrs) => {
            for a in addrs.iter().filter(|a| family.matches(a)) {
                decision.push(*a);
            }
            return;
        }
        OnAllDown::Cname(_) => {
            decision.cname = true;
            return;
        }
        OnAllDown::AllEndpoints => {}
    }
    let eligible =
        |e: &Endpoint| family.matches(&e.address) && cands.iter().any(|c| c.region == e.region);
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
}

/// Where step 3 finds nothing healthy, as things stand: for each family the service has
/// endpoints of, the whole service (`None`: every client asking for it), or else each
/// route (by index) whose regions have endpoints of the family but none up. Those clients
/// get what `on_all_down` says (failing open, by default). For the status console; the
/// per-query path does not call it.
pub fn all_down(service: &Service, health: &Health<'_>) -> Vec<(Family, Option<usize>)> {
    let capacity = |family: Family, regions: Option<&[usize]>| {
        let (mut healthy, mut total) = (0u64, 0u64);
        for (e, state) in service.endpoints.iter().zip(health.endpoints) {
            if family.matches(&e.address) && regions.is_none_or(|r| r.contains(&e.region)) {
                total += e.capacity as u64;
                if *state == EndpointState::Up {
                    healthy += e.capacity as u64;
                }
            }
        }
        (healthy, total)
    };
    let mut out = Vec::new();
    for family in [Family::V4, Family::V6] {
        match capacity(family, None) {
            (_, 0) => continue,
            (0, _) => out.push((family, None)),
            _ => {
                for (i, route) in service.routes.iter().enumerate() {
                    if let (0, 1..) = capacity(family, Some(&route.regions)) {
                        out.push((family, Some(i)));
                    }
                }
            }
        }
    }
    out
}

/// Step 3: each candidate's share of all client networks and, for a priority ranking, the
/// fraction of the networks reaching it that it keeps. A priority region keeps `healthy
/// fraction × overprovision` of all traffic, capped by what the regions before it left;
/// when all of them together cannot take everything, the shares are scaled up in
/// proportion. `weighted`: shares by healthy capacity.
fn shares(service: &Service, ranking: Ranking, cands: &mut [Candidate]) {
    if !ranking.priority {
        let healthy_total: f64 = cands.iter().map(|c| c.effective).sum();
        for c in cands.iter_mut() {
            c.share = c.effective / healthy_total;
        }
        return;
    }
    let mut left = 1.0f64;
    for c in cands.iter_mut() {
        let healthy_fraction = c.effective / c.total as f64;
        c.share = (healthy_fraction * service.overprovision).min(left);
        c.keep = if left > 0.0 { c.share / left } else { 0.0 };
        left -= c.share;
    }
    let assigned = 1.0 - left;
    if assigned > 0.0 && left > 1e-12 {
        cands.iter_mut().for_each(|c| c.share /= assigned);
    }
}

/// Step 4: the candidate that answers the client network (an index into `cands`).
///
/// Priority: walk the regions in rank order. A region keeps the network when the
/// network's first choice there (its best-ranked endpoint, up or not) is up: that is the
/// region's healthy fraction of the networks reaching it. When the region may keep more
/// (`keep` above its healthy fraction, by overprovisioning), it also keeps the networks
/// whose draw for the region falls in that extra part. The others walk on. Networks that
/// no region kept (all short of capacity) go to the best-ranked healthy endpoint of all,
/// weighted by the regions' shares. `weighted`: the best-ranked healthy endpoint of all.
fn pick_region(
    service: &Service,
    regions: &[Region],
    health: &Health<'_>,
    family: Family,
    ranking: Ranking,
    net: &NetworkHash,
    cands: &mut [Candidate],
) -> usize {
    if !ranking.priority {
        let best = best_healthy(service, health, family, net, cands, |_| 1.0);
        cands[best].outcome = Outcome::BestOfAll;
        return best;
    }
    for (i, c) in cands.iter_mut().enumerate() {
        c.first_choice = first_choice(service, family, net, c.region);
        let first_up = c
            .first_choice
            .is_some_and(|e| health.endpoints[e] == EndpointState::Up);
        // A first choice shedding load keeps the networks whose draw falls inside its
        // load factor: the region then keeps its effective healthy fraction.
        let shed = c.first_choice.is_some_and(|e| {
            let factor = health.capacity_factor(e);
            factor < 1.0 && net.endpoint_draw(&service.endpoints[e]) >= factor
        });
        if first_up && !shed && c.keep > 0.0 {
            c.outcome = Outcome::FirstChoiceUp;
            return i;
        }
        let healthy_fraction = c.effective / c.total as f64;
        if c.healthy > 0 && c.keep > healthy_fraction {
            let extra = (c.keep - healthy_fraction) / (1.0 - healthy_fraction);
            if net.region_draw(&regions[c.region].name) < extra {
                c.outcome = Outcome::Overprovisioned;
                return i;
            }
        }
        c.outcome = if first_up && shed {
            Outcome::Shed
        } else {
            Outcome::PassedOn
        };
    }
    let best = best_healthy(service, health, family, net, cands, |c| {
        c.share / c.effective.max(f64::MIN_POSITIVE)
    });
    cands[best].outcome = Outcome::Leftover;
    best
}

/// The network's best-ranked endpoint of `family` in `region`, whatever its health
/// (endpoints of capacity 0 are never ranked).
fn first_choice(
    service: &Service,
    family: Family,
    net: &NetworkHash,
    region: usize,
) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    for (i, e) in service.endpoints.iter().enumerate() {
        if e.region == region && family.matches(&e.address) && e.capacity > 0 {
            let s = net.score(e, 1.0);
            if best.is_none_or(|(b, _)| s < b) {
                best = Some((s, i));
            }
        }
    }
    best.map(|(_, i)| i)
}

/// The candidate holding the network's best-ranked healthy endpoint among all candidates,
/// each endpoint's effective capacity multiplied by `region_weight` of its region.
fn best_healthy(
    service: &Service,
    health: &Health<'_>,
    family: Family,
    net: &NetworkHash,
    cands: &[Candidate],
    region_weight: impl Fn(&Candidate) -> f64,
) -> usize {
    let mut best: Option<(f64, usize)> = None;
    for (ei, (e, s)) in service.endpoints.iter().zip(health.endpoints).enumerate() {
        if *s != EndpointState::Up || e.capacity == 0 || !family.matches(&e.address) {
            continue;
        }
        let Some(ci) = cands.iter().position(|c| c.region == e.region) else {
            continue;
        };
        let score = net.score(e, region_weight(&cands[ci]) * health.capacity_factor(ei));
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, ci));
        }
    }
    best.map_or(0, |(_, ci)| ci)
}

/// Step 5: up to `want` addresses: the healthy endpoints of the picked region in the
/// client network's ranking, then those of the other candidates in rank order. True when
/// some region had more healthy endpoints than were taken (the pick depended on the hash).
#[allow(clippy::too_many_arguments)]
fn pick_endpoints(
    service: &Service,
    health: &Health<'_>,
    family: Family,
    net: &NetworkHash,
    cands: &[Candidate],
    picked: usize,
    want: usize,
    decision: &mut Decision,
) -> bool {
    let mut more_than_taken = false;
    let order = std::iter::once(picked).chain((0..cands.len()).filter(|&i| i != picked));
    for i in order {
        if decision.len() >= want {
            break;
        }
        let region = cands[i].region;
        let eligible = |e: &Endpoint, s: &EndpointState| {
            e.region == region
                && family.matches(&e.address)
                && *s == EndpointState::Up
                && e.capacity > 0
        };
        let healthy = service
            .endpoints
            .iter()
            .zip(health.endpoints)
            .filter(|(e, s)| eligible(e, s))
            .count();
        let need = want - decision.len();
        more_than_taken |= healthy > need;
        // Selection, best first: the least (score, index) above the last one taken.
        let mut last: Option<(f64, usize)> = None;
        for _ in 0..need.min(healthy) {
            let mut next: Option<(f64, usize)> = None;
            for (j, (e, s)) in service.endpoints.iter().zip(health.endpoints).enumerate() {
                if !eligible(e, s) {
                    continue;
                }
                let key = (net.score(e, 1.0), j);
                let after_last = last.is_none_or(|l| key_cmp(key, l).is_gt());
                if after_last && next.is_none_or(|n| key_cmp(key, n).is_lt()) {
                    next = Some(key);
                }
            }
            let Some(key) = next else { break };
            decision.push(service.endpoints[key.1].address);
            last = Some(key);
        }
    }
    more_than_taken
}

fn key_cmp(a: (f64, usize), b: (f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Step 6, ECS scope: the route and location bits, the hashed network's length when the
/// answer depended on the hash, and never more than the client sent.
fn scope_of(scope: u8, depends_on_hash: bool, net: &NetworkHash, client: &Client<'_>) -> u8 {
    let scope = if depends_on_hash {
        scope.max(net.prefix)
    } else {
        scope
    };
    scope.min(client.source_prefix)
}

fn region_trace(service: &Service, c: &Candidate) -> RegionTrace {
    RegionTrace {
        region: c.region,
        distance_km: (c.distance_km > 0.0).then_some(c.distance_km),
        bias: c.bias,
        effective_km: (c.distance_km > 0.0).then(|| c.distance_km * bias_factor(c.bias)),
        healthy_capacity: c.healthy,
        effective_capacity: c.effective,
        total_capacity: c.total,
        rtt_ms: c.rtt_ms,
        share: c.share,
        keep: c.keep,
        first_choice: c.first_choice.map(|i| service.endpoints[i].address),
        outcome: c.outcome,
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

/// A client network's hash: the network (the client's /24 or /56, or its ECS prefix when
/// shorter) and a seed from it and the service salt. The same network ranks the endpoints
/// the same way after a restart, and after the endpoints or regions are reordered in the
/// config (endpoints are known by address, regions by name).
struct NetworkHash {
    network: IpAddr,
    prefix: u8,
    seed: u64,
}

impl NetworkHash {
    fn of(client: &Client<'_>, salt: u64) -> NetworkHash {
        let prefix = match client.addr {
            IpAddr::V4(_) => HASH_PREFIX_V4,
            IpAddr::V6(_) => HASH_PREFIX_V6,
        }
        .min(client.source_prefix);
        let network = mask(client.addr, prefix);
        let bits = addr_bits(network);
        let low = mix(bits as u64 ^ ((prefix as u64) << 56));
        let seed = mix(salt ^ low ^ mix((bits >> 64) as u64).rotate_left(17));
        NetworkHash {
            network,
            prefix,
            seed,
        }
    }

    /// Weighted rendezvous score of an endpoint for this network: `-ln(u) / weight`, `u`
    /// in (0, 1] from the network and the endpoint's address. Lower ranks first; over
    /// many networks an endpoint ranks first in proportion to its weight.
    fn score(&self, e: &Endpoint, region_weight: f64) -> f64 {
        let weight = e.capacity as f64 * region_weight;
        if !(weight > 0.0 && weight.is_finite()) {
            return f64::INFINITY;
        }
        let bits = addr_bits(e.address);
        let family = if e.address.is_ipv4() { 4 } else { 6 };
        let key = mix(mix(bits as u64 ^ family) ^ (bits >> 64) as u64);
        let h = mix(self.seed ^ key);
        let u = ((h >> 11) + 1) as f64 / (1u64 << 53) as f64;
        -u.ln() / weight
    }

    /// This network's draw in [0, 1) for an endpoint, known by address: independent of
    /// [`NetworkHash::score`], so which networks a loaded endpoint sheds does not depend
    /// on how strongly they prefer it.
    fn endpoint_draw(&self, e: &Endpoint) -> f64 {
        let bits = addr_bits(e.address);
        let key = mix(mix(bits as u64 ^ 0x5348_4544) ^ (bits >> 64) as u64).rotate_left(29);
        let h = mix(self.seed.rotate_left(7) ^ key);
        (h >> 11) as f64 / (1u64 << 53) as f64
    }

    /// This network's draw in [0, 1) for a region, known by name.
    fn region_draw(&self, name: &str) -> f64 {
        let mut k = 0xCBF2_9CE4_8422_2325u64; // FNV-1a
        for b in name.bytes() {
            k = (k ^ b as u64).wrapping_mul(0x0100_0000_01B3);
        }
        let h = mix(self.seed ^ mix(k));
        (h >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn addr_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// splitmix64's step and finalizer: a bijective mix of 64 bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
