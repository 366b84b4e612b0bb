//! The recent health events: a bounded log of what changed in the answers, kept by the
//! control task and shown by `/v1/status` and the console.
//!
//! An event is written when a published snapshot differs from the one before it: an
//! endpoint changed state (up, down, drained), a name started or stopped failing open,
//! or an operator drained or undrained a region. Endpoints are matched by service name and
//! address, so a reload that keeps an endpoint does not log it again. Only the newest
//! [`KEEP`] events are kept; the log lives in memory and starts empty at every start.

use crate::config::OnAllDown;
use crate::route::{self, EndpointState};
use crate::snapshot::Snapshot;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::{Instant, SystemTime};

/// Events kept; older ones are dropped.
pub const KEEP: usize = 100;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An endpoint's state in the answers changed (`from` → `to`).
    Endpoint,
    /// An operator drained a region.
    Drain,
    /// An operator undrained a region.
    Undrain,
    /// A name has nothing healthy for some clients and `on_all_down = "all"` answers
    /// with every endpoint anyway.
    FailingOpen,
    /// A name that was failing open has something healthy again.
    FailOpenOver,
}

/// One change, as `/v1/status` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Wall clock, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// On the control clock; `/v1/status` turns it into `age_ms`.
    #[serde(skip)]
    pub at: Instant,
    pub kind: EventKind,
    /// The load-balanced name (with trailing dot), for endpoint and fail-open events.
    pub service: Option<String>,
    pub address: Option<IpAddr>,
    pub region: Option<String>,
    /// Endpoint events: the states before and after (`up`, `down`, `drained`).
    pub from: Option<&'static str>,
    pub to: Option<&'static str>,
    /// One line for people: what changed and, for an endpoint that went down, what the
    /// probers said.
    pub message: String,
}

/// The newest [`KEEP`] events, oldest first.
#[derive(Debug, Default)]
pub struct EventLog {
    events: VecDeque<Event>,
    /// Events dropped for room since the start.
    pub dropped: u64,
}

impl EventLog {
    pub fn push(&mut self, event: Event) {
        if self.events.len() == KEEP {
            self.events.pop_front();
            self.dropped += 1;
        }
        self.events.push_back(event);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.events.iter()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

pub fn state_name(state: EndpointState) -> &'static str {
    match state {
        EndpointState::Up => "up",
        EndpointState::Down => "down",
        EndpointState::Drained => "drained",
    }
}

/// Who a service has nothing healthy for, in words, when it fails open (`None`: it does
/// not, or it answers NODATA then).
fn failing_open(snap: &Snapshot, service: usize) -> Option<String> {
    let s = &snap.services[service];
    if s.on_all_down != OnAllDown::AllEndpoints {
        return None;
    }
    let down = route::all_down(s, &snap.health.service(service));
    (!down.is_empty()).then(|| describe_all_down(s, &down))
}

/// "A for every client, AAAA for clients of the route at line 12", for
/// [`route::all_down`]'s list.
pub fn describe_all_down(
    service: &crate::config::Service,
    down: &[(route::Family, Option<usize>)],
) -> String {
    down.iter()
        .map(|(family, r)| {
            let family = match family {
                route::Family::V4 => "A",
                route::Family::V6 => "AAAA",
            };
            match r {
                None => format!("{family} for every client"),
                Some(i) => format!(
                    "{family} for clients of the route at line {}",
                    service.routes[*i].line
                ),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The events between two published snapshots. `reason` says why an endpoint is down
/// (the probers' reasons), by service index of `new` and address.
///
/// A change of health alone (the same services) compares each service's states by index
/// and looks further only at the services whose states changed, so a health change costs
/// little however many names there are; after a reload, services are matched by name and
/// endpoints by address.
pub fn diff(
    old: &Snapshot,
    new: &Snapshot,
    at: Instant,
    wall: SystemTime,
    reason: impl Fn(usize, IpAddr) -> String,
) -> Vec<Event> {
    let unix_ms = wall
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let same_services = std::sync::Arc::ptr_eq(&old.services, &new.services);
    let by_name: BTreeMap<&str, usize> = if same_services {
        BTreeMap::new()
    } else {
        old.service_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect()
    };
    let mut events = Vec::new();
    for (si, s) in new.services.iter().enumerate() {
        let name = &new.service_names[si];
        let Some(oi) = (if same_services {
            Some(si)
        } else {
            by_name.get(name.as_str()).copied()
        }) else {
            continue; // a new name: nothing to compare with
        };
        let (was, now) = (
            old.health.service(oi).endpoints,
            new.health.service(si).endpoints,
        );
        if same_services && was == now {
            continue;
        }
        let event = |kind, message: String| Event {
            unix_ms,
            at,
            kind,
            service: Some(name.clone()),
            address: None,
            region: None,
            from: None,
            to: None,
            message,
        };
        let old_endpoints = &old.services[oi].endpoints;
        for (ei, (e, &state)) in s.endpoints.iter().zip(now).enumerate() {
            let before = if same_services {
                Some(was[ei])
            } else {
                old_endpoints
                    .iter()
                    .position(|o| o.address == e.address)
                    .map(|i| was[i])
            };
            let Some(before) = before.filter(|b| *b != state) else {
                continue;
            };
            let region = new.config.regions[e.region].name.clone();
            let (from, to) = (state_name(before), state_name(state));
            let why = match state {
                EndpointState::Down => match reason(si, e.address) {
                    r if r.is_empty() => r,
                    r => format!(" ({r})"),
                },
                _ => String::new(),
            };
            let mut ev = event(
                EventKind::Endpoint,
                format!("{name} {} in {region}: {from} → {to}{why}", e.address),
            );
            ev.address = Some(e.address);
            ev.region = Some(region);
            ev.from = Some(from);
            ev.to = Some(to);
            events.push(ev);
        }
        match (failing_open(old, oi), failing_open(new, si)) {
            (before, Some(who)) if before.as_ref() != Some(&who) => events.push(event(
                EventKind::FailingOpen,
                format!(
                    "{name} is failing open ({who}): nothing healthy, answering with every endpoint"
                ),
            )),
            (Some(_), None) => events.push(event(
                EventKind::FailOpenOver,
                format!("{name} has healthy endpoints again: no longer failing open"),
            )),
            _ => {}
        }
    }
    events
}

/// The event of an operator's drain or undrain.
pub fn drained(region: &str, drained: bool, at: Instant, wall: SystemTime) -> Event {
    let (kind, word) = if drained {
        (EventKind::Drain, "drained")
    } else {
        (EventKind::Undrain, "undrained")
    };
    Event {
        unix_ms: wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        at,
        kind,
        service: None,
        address: None,
        region: Some(region.to_string()),
        from: None,
        to: None,
        message: format!("region {region} {word} by an operator"),
    }
}
