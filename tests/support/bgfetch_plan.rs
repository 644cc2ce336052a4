//! The operations `tests/bgfetch_properties.rs` generates (proptest
//! strategies), and the planner that turns a list of them into rounds: one
//! `swharness run` per round, each running a slice of the operations in
//! its page or, by `postMessage`, in its worker, and ending in a restart
//! (a clean exit or a `kill -9`).
//!
//! Any list of operations makes a valid plan, so that proptest can shrink
//! one freely: an operation that makes no sense where it lands (a target
//! when no fetch was made yet, a release while offline) is dropped or
//! stands for a nearby one, decided here and nowhere else.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

/// What one record of a fetch asks for, and so how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rec {
  /// A GET answered at once with a body of about this many KB.
  Ok(u8),
  /// A GET that stalls at `HELD_AT` (resumes with `Range` stall there
  /// too) until a `Release`: its fetch stays active until then.
  Held,
  /// A POST of this many hundred bytes, answered with `UPLOAD_ANSWER`.
  Upload(u8),
  /// 404: the fetch fails with `bad-status`.
  NotFound,
  /// Nothing listens: `fetch-error` at once.
  Refused,
  /// Every attempt resets mid-body: `fetch-error` after the retries.
  Reset,
  /// The first attempt resets mid-body; the retry resumes with `Range`.
  Flaky,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
  /// `downloadTotal` 0.
  Unknown,
  /// The bytes a success stores.
  Exact,
  /// One byte less: `download-total-exceeded`.
  TooSmall,
  /// More than needed.
  Larger,
}

/// Arguments `fetch()` refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
  Empty,
  NoCors,
  BadPort,
  Credentials,
  DataUrl,
  Quota,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
  Granted,
  Denied,
  Prompt,
}

impl Perm {
  pub fn as_str(self) -> &'static str {
    match self {
      Perm::Granted => "granted",
      Perm::Denied => "denied",
      Perm::Prompt => "prompt",
    }
  }
}

/// One generated operation. `worker`: the page asks its worker to make
/// the call. A target picks one of the fetches planned so far.
#[derive(Debug, Clone)]
pub enum Op {
  /// A new fetch, under a new id or (`reuse`) an earlier fetch's id.
  Fetch {
    worker: bool,
    recs: Vec<Rec>,
    total: Total,
    /// The worker calls `updateUI()` (twice) in its final event.
    ui: bool,
    reuse: Option<Index>,
  },
  Invalid {
    worker: bool,
    kind: Invalid,
  },
  Get {
    worker: bool,
    target: Index,
  },
  GetIds {
    worker: bool,
  },
  Abort {
    worker: bool,
    target: Index,
  },
  /// `match()` (its first record) or `matchAll()`.
  Match {
    target: Index,
    one: bool,
  },
  Click {
    target: Index,
  },
  Cancel {
    target: Index,
  },
  Online(bool),
  Permission(Perm),
  /// Every held download so far goes on to its end.
  Release,
  /// `registration.unregister()`, then the round ends.
  Unregister {
    kill: bool,
  },
  /// The round ends: a clean exit, or `kill -9` here. The next round
  /// starts `--offline` if `offline`.
  Restart {
    kill: bool,
    offline: bool,
  },
}

pub const HELD_LEN: usize = 65_536 + 123;
pub const HELD_AT: u64 = 16_384;
pub const FLAKY_LEN: usize = 32_000 + 11;
pub const FLAKY_RESET_AT: u64 = 8_192;
pub const RESET_LEN: usize = 65_536;
pub const RESET_AFTER: u64 = 4_096;
pub const UPLOAD_ANSWER: &[u8] = b"stored";
/// `--quota`; `Invalid::Quota` asks for far more.
pub const QUOTA: u64 = 256 << 20;
/// A round longer than this ends with a clean restart.
pub const MAX_ROUND_STEPS: usize = 40;

/// The body the server sends for `/ok/N`.
pub fn ok_len(n: u8) -> usize {
  n as usize * 1000 + n as usize
}

/// A body that is not one byte over and over, so that a resumed body in
/// the wrong place shows.
pub fn body(len: usize, salt: u32) -> Vec<u8> {
  (0..len as u32)
    .map(|i| (i.wrapping_add(salt).wrapping_mul(2654435761) >> 13) as u8)
    .collect()
}

/// The checksum the scripts compute.
pub fn checksum(b: &[u8]) -> u32 {
  b.iter()
    .fold(0u32, |s, &x| s.wrapping_mul(31).wrapping_add(x as u32))
}

fn rec() -> impl Strategy<Value = Rec> {
  prop_oneof![
    6 => (1u8..=24).prop_map(Rec::Ok),
    3 => Just(Rec::Held),
    1 => (1u8..=40).prop_map(Rec::Upload),
    1 => Just(Rec::NotFound),
    1 => Just(Rec::Refused),
    1 => Just(Rec::Reset),
    1 => Just(Rec::Flaky),
  ]
}

fn total() -> impl Strategy<Value = Total> {
  prop_oneof![
    4 => Just(Total::Unknown),
    2 => Just(Total::Exact),
    1 => Just(Total::TooSmall),
    1 => Just(Total::Larger),
  ]
}

fn invalid() -> impl Strategy<Value = Invalid> {
  prop_oneof![
    Just(Invalid::Empty),
    Just(Invalid::NoCors),
    Just(Invalid::BadPort),
    Just(Invalid::Credentials),
    Just(Invalid::DataUrl),
    Just(Invalid::Quota),
  ]
}

/// One operation, weighted toward fetches and the calls that read them.
pub fn op() -> impl Strategy<Value = Op> {
  let w = || prop::bool::weighted(0.3);
  prop_oneof![
    18 => (
      w(),
      prop::collection::vec(rec(), 1..=3),
      total(),
      any::<bool>(),
      prop::option::weighted(0.1, any::<Index>())
    )
      .prop_map(|(worker, recs, total, ui, reuse)| Op::Fetch { worker, recs, total, ui, reuse }),
    3 => (w(), invalid()).prop_map(|(worker, kind)| Op::Invalid { worker, kind }),
    4 => (w(), any::<Index>()).prop_map(|(worker, target)| Op::Get { worker, target }),
    5 => w().prop_map(|worker| Op::GetIds { worker }),
    4 => (w(), any::<Index>()).prop_map(|(worker, target)| Op::Abort { worker, target }),
    3 => (any::<Index>(), any::<bool>()).prop_map(|(target, one)| Op::Match { target, one }),
    2 => any::<Index>().prop_map(|target| Op::Click { target }),
    2 => any::<Index>().prop_map(|target| Op::Cancel { target }),
    4 => any::<bool>().prop_map(Op::Online),
    2 => prop_oneof![Just(Perm::Granted), Just(Perm::Denied), Just(Perm::Prompt)]
      .prop_map(Op::Permission),
    3 => Just(Op::Release),
    1 => any::<bool>().prop_map(|kill| Op::Unregister { kill }),
    4 => (any::<bool>(), prop::bool::weighted(0.25))
      .prop_map(|(kill, offline)| Op::Restart { kill, offline }),
  ]
}

/// A case: `n` operations.
pub fn case(n: usize) -> impl Strategy<Value = Vec<Op>> {
  prop::collection::vec(op(), 1..=n.max(1))
}

/// One record as planned: its URL and what a success stores.
#[derive(Debug, Clone)]
pub struct PlannedRec {
  pub kind: Rec,
  pub url: String,
  pub method: &'static str,
  /// The request body's length (a POST).
  pub upload: usize,
  /// The body a success stores (None: the record cannot succeed).
  pub body: Option<Vec<u8>>,
  /// The route of a held record (released by path).
  pub held_path: Option<String>,
  /// A fault queued for this URL's first request (path and query).
  pub queued: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedFetch {
  pub k: usize,
  pub id: String,
  pub recs: Vec<PlannedRec>,
  pub total: u64,
  pub worker: bool,
  pub ui: bool,
  pub reuse_of: Option<usize>,
  pub round: usize,
}

impl PlannedFetch {
  /// The bytes a success stores.
  pub fn success_len(&self) -> u64 {
    self
      .recs
      .iter()
      .map(|r| r.body.as_ref().map_or(0, |b| b.len() as u64))
      .sum()
  }
  pub fn upload_total(&self) -> u64 {
    self.recs.iter().map(|r| r.upload as u64).sum()
  }
  pub fn has_held(&self) -> bool {
    self.recs.iter().any(|r| r.kind == Rec::Held)
  }
  /// Whether it can end in success: no record that always fails, and a
  /// total that fits (a `Reset` record may succeed after restarts).
  pub fn can_succeed(&self) -> bool {
    let always_fails = self
      .recs
      .iter()
      .any(|r| matches!(r.kind, Rec::NotFound | Rec::Refused));
    let too_small = self.total > 0 && self.total < self.success_len();
    !always_fails && !too_small
  }

  /// The failure reasons its records or its total can cause (empty: it
  /// succeeds unless aborted).
  pub fn failure_reasons(&self) -> Vec<&'static str> {
    let mut out = Vec::new();
    if self.recs.iter().any(|r| r.kind == Rec::NotFound) {
      out.push("bad-status");
    }
    if self
      .recs
      .iter()
      .any(|r| matches!(r.kind, Rec::Refused | Rec::Reset))
    {
      out.push("fetch-error");
    }
    if self.total > 0 && self.total < self.success_len() {
      out.push("download-total-exceeded");
    }
    out
  }
}

/// One step of a round, as the checker reads its result.
#[derive(Debug, Clone)]
pub enum Step {
  Fetch {
    k: usize,
  },
  Invalid {
    worker: bool,
    kind: Invalid,
  },
  Get {
    worker: bool,
    id: String,
  },
  GetIds {
    worker: bool,
  },
  Abort {
    worker: bool,
    k: usize,
  },
  Match {
    k: usize,
    one: bool,
  },
  Click {
    id: String,
  },
  Cancel {
    id: String,
  },
  Online(bool),
  Permission(Perm),
  /// The harness releases these held routes when the page asks `ack`.
  Release {
    ack: String,
    paths: Vec<String>,
  },
  Unregister,
  Kill,
}

#[derive(Debug, Clone)]
pub struct Round {
  /// Started with `--offline`.
  pub offline: bool,
  pub steps: Vec<Step>,
  /// The page's steps as JSON, one per step.
  pub js: Vec<Value>,
  pub kill: bool,
  pub unregister: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
  pub fetches: Vec<PlannedFetch>,
  pub rounds: Vec<Round>,
}

/// Where the fetched URLs point.
pub struct Urls {
  /// The fault server's origin (`http://127.0.0.1:PORT`).
  pub server: String,
  /// An origin where nothing listens.
  pub refused: String,
}

struct Planner<'a> {
  urls: &'a Urls,
  plan: Plan,
  round: Round,
  online: bool,
  perm: Perm,
  /// Held routes not yet released.
  held: Vec<String>,
  invalid_ids: usize,
}

impl Planner<'_> {
  fn push(&mut self, step: Step, js: Value) {
    self.round.steps.push(step);
    self.round.js.push(js);
  }

  fn end_round(&mut self, kill: bool, unregister: bool, next_offline: bool) {
    // A clean exit needs every download to be idle: held ones pause
    // offline (they resume in the next round).
    if !kill && self.online && !self.held.is_empty() {
      self.push(Step::Online(false), json!({"op": "online", "on": false}));
    }
    if kill {
      self.push(Step::Kill, json!({"op": "kill"}));
    }
    self.round.kill = kill;
    self.round.unregister = unregister;
    let next = Round {
      offline: next_offline,
      steps: Vec::new(),
      js: Vec::new(),
      kill: false,
      unregister: false,
    };
    self
      .plan
      .rounds
      .push(std::mem::replace(&mut self.round, next));
    self.online = !next_offline;
    self.perm = Perm::Granted;
  }

  fn target(&self, i: &Index) -> Option<&PlannedFetch> {
    (!self.plan.fetches.is_empty()).then(|| &self.plan.fetches[i.index(self.plan.fetches.len())])
  }

  fn fetch(&mut self, worker: bool, recs: &[Rec], total: Total, ui: bool, reuse: Option<&Index>) {
    let k = self.plan.fetches.len();
    let reuse_of = reuse
      .and_then(|i| self.target(i))
      .map(|f| (f.k, f.id.clone()));
    let id = match &reuse_of {
      Some((_, id)) => id.clone(),
      None => format!("f{k}{}", if ui { "u" } else { "" }),
    };
    let s = &self.urls.server;
    let recs: Vec<PlannedRec> = recs
      .iter()
      .enumerate()
      .map(|(j, &kind)| {
        let tag = format!("k={k}&j={j}");
        let mut r = PlannedRec {
          kind,
          url: String::new(),
          method: "GET",
          upload: 0,
          body: None,
          held_path: None,
          queued: None,
        };
        match kind {
          Rec::Ok(n) => {
            r.url = format!("{s}/ok/{n}?{tag}");
            r.body = Some(body(ok_len(n), n as u32));
          }
          Rec::Held => {
            let path = format!("/held/{k}/{j}");
            r.url = format!("{s}{path}");
            r.body = Some(body(HELD_LEN, (k * 8 + j) as u32));
            r.held_path = Some(path);
          }
          Rec::Upload(n) => {
            r.url = format!("{s}/echo?{tag}");
            r.method = "POST";
            r.upload = n as usize * 100;
            r.body = Some(UPLOAD_ANSWER.to_vec());
          }
          Rec::NotFound => r.url = format!("{s}/missing?{tag}"),
          Rec::Refused => r.url = format!("{}/refused?{tag}", self.urls.refused),
          // Its retries are counted per process: across restarts each
          // attempt resumes a little further, and it may yet succeed.
          Rec::Reset => {
            r.url = format!("{s}/reset?{tag}");
            r.body = Some(body(RESET_LEN, 3));
          }
          Rec::Flaky => {
            r.url = format!("{s}/flaky?{tag}");
            r.body = Some(body(FLAKY_LEN, 7));
            r.queued = Some(format!("/flaky?{tag}"));
          }
        }
        r
      })
      .collect();
    let mut f = PlannedFetch {
      k,
      id,
      recs,
      total: 0,
      worker,
      ui: reuse_of.as_ref().map_or(ui, |(_, id)| id.ends_with('u')),
      reuse_of: reuse_of.map(|(k, _)| k),
      round: self.plan.rounds.len(),
    };
    let len = f.success_len();
    f.total = match total {
      Total::Unknown => 0,
      Total::Exact => len,
      Total::TooSmall if len >= 2 => len - 1,
      Total::TooSmall => 0,
      Total::Larger => len * 2 + 100,
    };
    let reqs: Vec<Value> = f
      .recs
      .iter()
      .map(|r| json!({"url": r.url, "method": r.method, "body": "u".repeat(r.upload)}))
      .collect();
    self
      .held
      .extend(f.recs.iter().filter_map(|r| r.held_path.clone()));
    let js = json!({"op": "fetch", "w": worker, "k": k, "id": f.id, "reqs": reqs,
                    "total": f.total, "title": format!("t{k}")});
    self.plan.fetches.push(f);
    self.push(Step::Fetch { k }, js);
  }

  fn op(&mut self, op: &Op) {
    match op {
      Op::Fetch {
        worker,
        recs,
        total,
        ui,
        reuse,
      } => self.fetch(*worker, recs, *total, *ui, reuse.as_ref()),
      Op::Invalid { worker, kind } => {
        self.invalid_ids += 1;
        let id = format!("x{}", self.invalid_ids);
        let s = &self.urls.server;
        let port = s.rsplit(':').next().unwrap_or("");
        let (reqs, total, no_cors) = match kind {
          Invalid::Empty => (json!([]), 0u64, false),
          Invalid::NoCors => (json!([format!("{s}/ok/1")]), 0, true),
          Invalid::BadPort => (json!(["http://127.0.0.1:25/x"]), 0, false),
          Invalid::Credentials => (
            json!([format!("http://u:p@127.0.0.1:{port}/ok/1")]),
            0,
            false,
          ),
          Invalid::DataUrl => (json!(["data:text/plain,hi"]), 0, false),
          Invalid::Quota => (json!([format!("{s}/ok/1")]), QUOTA * 4, false),
        };
        let js = json!({"op": "invalid", "w": worker, "id": id, "urls": reqs,
                        "total": total, "noCors": no_cors});
        self.push(
          Step::Invalid {
            worker: *worker,
            kind: *kind,
          },
          js,
        );
      }
      Op::Get { worker, target } => {
        if let Some(id) = self.target(target).map(|f| f.id.clone()) {
          let js = json!({"op": "get", "w": worker, "id": id});
          self.push(
            Step::Get {
              worker: *worker,
              id,
            },
            js,
          );
        }
      }
      Op::GetIds { worker } => self.push(
        Step::GetIds { worker: *worker },
        json!({"op": "getIds", "w": worker}),
      ),
      Op::Abort { worker, target } => {
        if let Some((k, id)) = self.target(target).map(|f| (f.k, f.id.clone())) {
          let js = json!({"op": "abort", "w": worker, "k": k, "id": id});
          self.push(Step::Abort { worker: *worker, k }, js);
        }
      }
      Op::Match { target, one } => {
        if let Some(f) = self.target(target) {
          let js = json!({"op": "match", "w": false, "k": f.k, "id": f.id, "one": one,
                          "url": f.recs[0].url});
          let k = f.k;
          self.push(Step::Match { k, one: *one }, js);
        }
      }
      Op::Click { target } | Op::Cancel { target } => {
        if let Some(id) = self.target(target).map(|f| f.id.clone()) {
          let click = matches!(op, Op::Click { .. });
          let js = json!({"op": if click { "click" } else { "cancel" }, "w": false, "id": id});
          let step = if click {
            Step::Click { id }
          } else {
            Step::Cancel { id }
          };
          self.push(step, js);
        }
      }
      Op::Online(on) => {
        self.online = *on;
        self.push(
          Step::Online(*on),
          json!({"op": "online", "w": false, "on": on}),
        );
      }
      Op::Permission(p) => {
        self.perm = *p;
        self.push(
          Step::Permission(*p),
          json!({"op": "perm", "w": false, "state": p.as_str()}),
        );
      }
      // The page asks the harness over the network: not while offline.
      Op::Release if self.online && !self.held.is_empty() => {
        let ack = format!("/ack/{}/{}", self.plan.rounds.len(), self.round.steps.len());
        let paths = std::mem::take(&mut self.held);
        let js = json!({"op": "release", "w": false, "url": format!("{}{ack}", self.urls.server)});
        self.push(Step::Release { ack, paths }, js);
      }
      Op::Release => {}
      Op::Unregister { kill } => {
        self.push(Step::Unregister, json!({"op": "unregister", "w": false}));
        self.end_round(*kill, true, false);
      }
      Op::Restart { kill, offline } => self.end_round(*kill, false, *offline),
    }
    if self.round.steps.len() >= MAX_ROUND_STEPS {
      self.end_round(false, false, false);
    }
  }
}

/// The rounds for `ops`. The last round ends cleanly; the harness adds a
/// drain round after it.
pub fn plan(ops: &[Op], urls: &Urls) -> Plan {
  let mut p = Planner {
    urls,
    plan: Plan::default(),
    round: Round {
      offline: false,
      steps: Vec::new(),
      js: Vec::new(),
      kill: false,
      unregister: false,
    },
    online: true,
    perm: Perm::Granted,
    held: Vec::new(),
    invalid_ids: 0,
  };
  for op in ops {
    p.op(op);
  }
  if !p.round.steps.is_empty() || p.plan.rounds.is_empty() {
    p.end_round(false, false, false);
  }
  p.plan
}
