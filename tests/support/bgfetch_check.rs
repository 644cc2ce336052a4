//! The model and the invariants of `tests/bgfetch_properties.rs`. After a
//! case has run, its rounds' output is read in order: each page step's
//! result (one `OBS` line per step, in step order) is checked against what
//! the model knows at that point and then updates it; the worker's final
//! events, clicks and `progress` events, the trace, and the exit status
//! are checked per round; and at the end, every accepted fetch's final
//! events.
//!
//! The model knows a fetch's state exactly only at some points: a fetch
//! with a held record (not released, not aborted) is active; a fetch is
//! over once a round ended cleanly while online (the run only exits when
//! nothing is pending), once it was aborted, or once its registration was
//! unregistered. In between, it is "maybe active", and a check accepts
//! either answer.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::bgfetch_plan::{checksum, Perm, Plan, PlannedFetch, Rec, Step};

/// What one `swharness run` gave.
#[derive(Debug, Default)]
pub struct RoundOut {
  pub code: Option<i32>,
  /// The harness sent `kill -9` (at the page's `KILL-NOW`).
  pub killed: bool,
  /// The harness gave up waiting for the process.
  pub hung: bool,
  pub stdout: String,
  pub stderr: String,
  pub trace: String,
  /// What the state directory check found after the round.
  pub state_problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Aborted {
  #[default]
  No,
  Maybe,
  Yes,
}

#[derive(Debug, Default)]
struct F {
  accepted: bool,
  aborted: Aborted,
  released: bool,
  done: bool,
  forgotten_in: Option<usize>,
  finals: Vec<(usize, Value)>,
  /// Per round: the least and most downloaded and uploaded seen.
  seen: BTreeMap<usize, [u64; 4]>,
}

pub struct Checker<'a> {
  plan: &'a Plan,
  f: Vec<F>,
  /// Ids used by more than one fetch: observations by id are not
  /// attributed.
  shared_ids: std::collections::HashSet<String>,
  problems: Vec<String>,
  round: usize,
}

fn obs(stdout: &str) -> Vec<(bool, Value)> {
  stdout
    .lines()
    .filter_map(|l| {
      let at = l.find("OBS ")?;
      let v: Value = serde_json::from_str(&l[at + 4..]).ok()?;
      Some((l.starts_with("[sw]"), v))
    })
    .collect()
}

/// The fetch a record URL belongs to (`k=N` or `/held/N/`).
fn tag_of(url: &str) -> Option<usize> {
  let rest = url
    .split("k=")
    .nth(1)
    .or_else(|| url.split("/held/").nth(1))?;
  rest
    .split(|c: char| !c.is_ascii_digit())
    .next()?
    .parse()
    .ok()
}

fn name(v: &Value) -> &str {
  v["error"].as_str().unwrap_or("")
}

impl<'a> Checker<'a> {
  pub fn new(plan: &'a Plan) -> Self {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for f in &plan.fetches {
      *count.entry(&f.id).or_default() += 1;
    }
    Checker {
      plan,
      f: plan.fetches.iter().map(|_| F::default()).collect(),
      shared_ids: count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id.to_string())
        .collect(),
      problems: Vec::new(),
      round: 0,
    }
  }

  fn bad(&mut self, what: String) {
    self.problems.push(format!("round {}: {what}", self.round));
  }

  fn fetch(&self, k: usize) -> &'a PlannedFetch {
    &self.plan.fetches[k]
  }

  fn known_active(&self, k: usize) -> bool {
    let f = &self.f[k];
    f.accepted
      && self.fetch(k).has_held()
      && !f.released
      && f.aborted == Aborted::No
      && f.forgotten_in.is_none()
  }

  fn maybe_active(&self, k: usize) -> bool {
    let f = &self.f[k];
    f.accepted && !f.done && f.aborted != Aborted::Yes && f.forgotten_in.is_none()
  }

  /// Known active, and abort() cannot find it failed already.
  fn surely_abortable(&self, k: usize) -> bool {
    self.known_active(k)
      && !self
        .fetch(k)
        .recs
        .iter()
        .any(|r| matches!(r.kind, Rec::NotFound | Rec::Refused | Rec::Reset))
  }

  fn with_id(&self, id: &str) -> impl Iterator<Item = usize> + '_ {
    let id = id.to_string();
    (0..self.f.len()).filter(move |&k| self.plan.fetches[k].id == id)
  }

  fn see(&mut self, k: usize, d: Option<u64>, u: Option<u64>) {
    let e = self.f[k]
      .seen
      .entry(self.round)
      .or_insert([u64::MAX, 0, u64::MAX, 0]);
    if let Some(d) = d {
      e[0] = e[0].min(d);
      e[1] = e[1].max(d);
    }
    if let Some(u) = u {
      e[2] = e[2].min(u);
      e[3] = e[3].max(u);
    }
  }

  /// The fetch an observation by id is about, when only one fetch ever
  /// had that id.
  fn only(&self, id: &str) -> Option<usize> {
    (!self.shared_ids.contains(id))
      .then(|| self.with_id(id).next())
      .flatten()
  }

  /// Checks one round's output; `offline_at_end` comes from its steps.
  pub fn round(&mut self, r: usize, out: &RoundOut, drain: bool) {
    self.round = r;
    if drain {
      for f in self.f.iter_mut() {
        f.released = true;
      }
    }
    let round = self.plan.rounds.get(r);
    let steps: &[Step] = round.map_or(&[], |x| &x.steps);
    let mut online = !round.is_some_and(|x| x.offline);
    let mut perm = Perm::Granted;
    let all = obs(&out.stdout);
    let results: Vec<&Value> = all
      .iter()
      .filter(|(sw, v)| !sw && v["kind"] == "op")
      .map(|(_, v)| &v["res"])
      .collect();
    let mut clicks: HashMap<String, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
      if matches!(step, Step::Kill) {
        break;
      }
      let Some(res) = results.get(i).copied() else {
        self.bad(format!(
          "no result for step {i} ({step:?}): the page stopped"
        ));
        break;
      };
      self.step(step, res, perm, &mut clicks);
      match step {
        Step::Online(on) => online = *on,
        Step::Permission(p) => perm = *p,
        _ => {}
      }
    }
    let clean = !out.killed && !out.hung;
    if clean && !all.iter().any(|(sw, v)| !sw && v["kind"] == "done") {
      self.bad("the page did not finish its steps".into());
    }
    self.worker_logs(&all, &clicks, clean);
    self.progress(&all, &out.trace);
    self.exit(out);
    for p in &out.state_problems {
      self.bad(format!("state directory: {p}"));
    }
    // What the end of the round tells.
    if round.is_some_and(|x| x.unregister) {
      for k in 0..self.f.len() {
        if self.f[k].accepted && !self.f[k].done && self.f[k].forgotten_in.is_none() {
          self.f[k].forgotten_in = Some(r);
        }
      }
    } else if clean && online && out.code == Some(0) {
      for f in self.f.iter_mut() {
        if f.accepted && f.forgotten_in.is_none() {
          f.done = true;
        }
      }
    }
  }

  fn step(&mut self, step: &Step, res: &Value, perm: Perm, clicks: &mut HashMap<String, usize>) {
    let err = name(res).to_string();
    let granted = perm == Perm::Granted;
    match step {
      Step::Fetch { k } => {
        let f = self.fetch(*k);
        let others: Vec<usize> = self.with_id(&f.id).filter(|o| o != k).collect();
        let expect: &[&str] = if !granted {
          &["NotAllowedError"]
        } else if others.iter().any(|&o| self.known_active(o)) {
          &["TypeError"]
        } else if others.iter().any(|&o| self.maybe_active(o)) {
          &["", "TypeError"]
        } else {
          &[""]
        };
        if !expect.contains(&err.as_str()) {
          self.bad(format!(
            "fetch k={k} id={}: got {res}, expected one of {expect:?}",
            f.id
          ));
        }
        if res["ok"] == true {
          self.f[*k].accepted = true;
          if res["id"] != f.id.as_str() {
            self.bad(format!("fetch k={k}: registration id {}", res["id"]));
          }
          let k = *k;
          self.see(k, res["d"].as_u64(), res["u"].as_u64());
        }
      }
      Step::Invalid { kind, .. } => {
        let want = match kind {
          super::bgfetch_plan::Invalid::Quota if !granted => "NotAllowedError",
          super::bgfetch_plan::Invalid::Quota => "QuotaExceededError",
          _ => "TypeError",
        };
        if err != want {
          self.bad(format!(
            "invalid fetch {kind:?}: got {res}, expected {want}"
          ));
        }
      }
      Step::Get { id, .. } => {
        let known = self.with_id(id).any(|k| self.known_active(k));
        let maybe = self.with_id(id).any(|k| self.maybe_active(k));
        let found = res["found"] == true;
        if (known && !found) || (!maybe && found) || !err.is_empty() {
          self.bad(format!(
            "get({id}): got {res}; known active {known}, maybe {maybe}"
          ));
        }
        if found {
          if let Some(k) = self.only(id) {
            self.see(k, res["d"].as_u64(), res["u"].as_u64());
          }
        }
      }
      Step::GetIds { .. } => {
        let Some(ids) = res["ids"].as_array() else {
          return self.bad(format!("getIds(): {res}"));
        };
        let got: Vec<&str> = ids.iter().filter_map(|v| v.as_str()).collect();
        let mut uniq = got.clone();
        uniq.sort();
        uniq.dedup();
        let required: Vec<&str> = (0..self.f.len())
          .filter(|&k| self.known_active(k))
          .map(|k| self.fetch(k).id.as_str())
          .collect();
        let allowed: Vec<&str> = (0..self.f.len())
          .filter(|&k| self.maybe_active(k))
          .map(|k| self.fetch(k).id.as_str())
          .collect();
        if uniq.len() != got.len()
          || required.iter().any(|id| !got.contains(id))
          || got.iter().any(|id| !allowed.contains(id))
        {
          self.bad(format!(
            "getIds() = {got:?}; must hold {required:?}, may hold {allowed:?}"
          ));
        }
      }
      Step::Abort { k, .. } => {
        let id = self.fetch(*k).id.clone();
        let targets: Vec<usize> = if res["via"] == "obj" {
          vec![*k]
        } else {
          let known: Vec<usize> = self
            .with_id(&id)
            .filter(|&o| self.known_active(o))
            .collect();
          if known.is_empty() {
            self
              .with_id(&id)
              .filter(|&o| self.maybe_active(o))
              .collect()
          } else {
            known
          }
        };
        if res["none"] == true {
          if self.with_id(&id).any(|o| self.known_active(o)) {
            self.bad(format!(
              "abort k={k}: get({id}) found nothing, but it is active"
            ));
          }
        } else if res["aborted"] == true {
          if targets.iter().all(|&t| !self.maybe_active(t)) {
            self.bad(format!(
              "abort k={k} ({res}): true for a fetch that is not active"
            ));
          }
          let sure = targets.len() == 1;
          for t in targets {
            self.f[t].aborted = if sure { Aborted::Yes } else { Aborted::Maybe };
          }
        } else if res["aborted"] == false {
          if targets.iter().any(|&t| self.surely_abortable(t)) {
            self.bad(format!("abort k={k} ({res}): false for an active fetch"));
          }
        } else {
          self.bad(format!("abort k={k}: {res}"));
        }
      }
      Step::Match { k, one } => {
        let f = self.fetch(*k);
        let urls: Vec<&str> = f.recs.iter().map(|r| r.url.as_str()).collect();
        if res["none"] == true {
          if self.with_id(&f.id).any(|o| self.known_active(o)) {
            self.bad(format!("match k={k}: get found nothing, but it is active"));
          }
        } else if !err.is_empty() {
          if err != "InvalidStateError" || self.known_active(*k) && res["via"] == "obj" {
            self.bad(format!("match k={k}: {res}"));
          }
        } else {
          let got: Vec<Option<&str>> = res["urls"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str()).collect())
            .unwrap_or_default();
          let same = |g: &PlannedFetch| -> bool {
            if *one {
              // A URL is a GET query, which a POST record does not match
              // (Service Workers, "request matches cached item", step 1).
              let first = (f.recs[0].method == "GET").then_some(urls[0]);
              got == [first] || g.k != *k && got == [None]
            } else {
              got
                == g
                  .recs
                  .iter()
                  .map(|r| Some(r.url.as_str()))
                  .collect::<Vec<_>>()
            }
          };
          let ok = if res["via"] == "obj" {
            same(f)
          } else {
            self.with_id(&f.id).any(|g| same(self.fetch(g)))
          };
          if !ok {
            self.bad(format!("match k={k} one={one}: {res}, records {urls:?}"));
          }
        }
      }
      Step::Click { id } => {
        let any = self.with_id(id).any(|k| self.f[k].accepted);
        if (any && !err.is_empty()) || (!any && err != "TypeError") {
          self.bad(format!("click({id}): {res}, a fetch with that id: {any}"));
        }
        if err.is_empty() {
          *clicks.entry(id.clone()).or_default() += 1;
        }
      }
      Step::Cancel { id } => {
        let newest = self.with_id(id).filter(|&k| self.f[k].accepted).last();
        match (newest, &res["cancelled"]) {
          (None, _) if err == "TypeError" => {}
          (Some(n), Value::Bool(true)) => {
            if !self.maybe_active(n) {
              self.bad(format!("cancel({id}): true for k={n}, which is not active"));
            }
            self.f[n].aborted = Aborted::Yes;
          }
          (Some(n), Value::Bool(false)) if !self.surely_abortable(n) => {}
          _ => self.bad(format!("cancel({id}): {res}, newest {newest:?}")),
        }
      }
      Step::Release { paths, .. } => {
        if res["text"] != "released" {
          self.bad(format!("release: {res}"));
        }
        for (k, f) in self.plan.fetches.iter().enumerate() {
          if f
            .recs
            .iter()
            .any(|r| r.held_path.as_ref().is_some_and(|p| paths.contains(p)))
          {
            self.f[k].released = true;
          }
        }
      }
      Step::Unregister => {
        if res["unregistered"] != true {
          self.bad(format!("unregister(): {res}"));
        }
      }
      Step::Online(_) | Step::Permission(_) => {
        if res["ok"] != true {
          self.bad(format!("{step:?}: {res}"));
        }
      }
      Step::Kill => {}
    }
  }

  fn worker_logs(&mut self, all: &[(bool, Value)], clicks: &HashMap<String, usize>, clean: bool) {
    let mut seen_clicks: HashMap<String, usize> = HashMap::new();
    for (sw, v) in all {
      if !sw {
        continue;
      }
      match v["kind"].as_str() {
        Some("click") => {
          *seen_clicks
            .entry(v["id"].as_str().unwrap_or("").to_string())
            .or_default() += 1
        }
        Some("final") => {
          let urls: Vec<&str> = v["records"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["url"].as_str()).collect())
            .unwrap_or_default();
          let id = v["id"].as_str().unwrap_or("");
          let k = urls
            .first()
            .and_then(|u| tag_of(u))
            .or_else(|| self.only(id));
          match k {
            Some(k) if k < self.f.len() => {
              self.f[k].finals.push((self.round, v.clone()));
              self.see(k, v["downloaded"].as_u64(), v["uploaded"].as_u64());
            }
            _ => self.bad(format!("a final event for no known fetch: {v}")),
          }
        }
        _ => {}
      }
    }
    for (id, &n) in clicks {
      let got = seen_clicks.get(id).copied().unwrap_or(0);
      if got < n || clean && got != n {
        self.bad(format!("{n} clicks on {id} resolved, the worker saw {got}"));
      }
    }
  }

  /// `downloaded` and `uploaded` never go down: per registration object,
  /// per id in the trace, and (below, in `finish`) across rounds.
  fn progress(&mut self, all: &[(bool, Value)], trace: &str) {
    let mut last: HashMap<String, (u64, u64)> = HashMap::new();
    let mut check = |me: &mut Self, key: String, d: u64, u: u64, what: &str| {
      if let Some(&(d0, u0)) = last.get(&key) {
        if d < d0 || u < u0 {
          me.bad(format!(
            "{what} {key}: downloaded/uploaded went from {d0}/{u0} to {d}/{u}"
          ));
        }
      }
      last.insert(key, (d, u));
    };
    for (sw, v) in all {
      if v["kind"] != "progress" {
        continue;
      }
      let key = format!("{} obj {}", if *sw { "sw" } else { "page" }, v["obj"]);
      let (d, u) = (v["d"].as_u64().unwrap_or(0), v["u"].as_u64().unwrap_or(0));
      check(self, key, d, u, "progress events of");
      if let Some(k) = self.only(v["id"].as_str().unwrap_or("")) {
        self.see(k, Some(d), Some(u));
      }
    }
    for line in trace.lines() {
      let Ok(v) = serde_json::from_str::<Value>(line) else {
        continue;
      };
      if v["kind"] != "bgfetch-progress" {
        continue;
      }
      let id = v["id"].as_str().unwrap_or("").to_string();
      let Some(k) = self.only(&id) else { continue };
      let (d, u) = (
        v["downloaded"].as_u64().unwrap_or(0),
        v["uploaded"].as_u64().unwrap_or(0),
      );
      check(self, id, d, u, "the trace's bgfetch-progress of");
      self.see(k, Some(d), Some(u));
    }
  }

  fn exit(&mut self, out: &RoundOut) {
    if out.hung {
      self.bad("the run did not end (killed by the harness)".into());
    } else if out.killed {
      if !matches!(out.code, None | Some(0)) {
        self.bad(format!("exit {:?} before the kill", out.code));
      }
    } else if out.code != Some(0) {
      self.bad(format!("exit {:?}", out.code));
    }
    for bad in ["panicked", "Uncaught", "RUST_BACKTRACE"] {
      if out.stderr.contains(bad) {
        self.bad(format!("{bad:?} on stderr"));
      }
    }
  }

  /// The checks once every round has run; the problems found, if any.
  pub fn finish(mut self, killed: &[bool]) -> Vec<String> {
    self.round = killed.len();
    for k in 0..self.f.len() {
      self.finals_of(k, killed);
      let rounds: Vec<(usize, [u64; 4])> = self.f[k].seen.iter().map(|(r, s)| (*r, *s)).collect();
      for w in rounds.windows(2) {
        let ((r1, a), (r2, b)) = (w[0], w[1]);
        if a[1] > b[0] && b[0] != u64::MAX || a[3] > b[2] && b[2] != u64::MAX {
          self.bad(format!(
            "k={k} ({}): downloaded/uploaded up to {}/{} in round {r1}, down to {}/{} in round {r2}",
            self.fetch(k).id, a[1], a[3], b[0], b[2]
          ));
        }
      }
    }
    self.problems
  }

  fn finals_of(&mut self, k: usize, killed: &[bool]) {
    let f = self.fetch(k);
    let finals = std::mem::take(&mut self.f[k].finals);
    let st = &self.f[k];
    let who = format!("k={k} ({})", f.id);
    if !st.accepted && !finals.is_empty() {
      return self.bad(format!("{who}: final events for a fetch never accepted"));
    }
    if st.accepted && st.forgotten_in.is_none() && finals.is_empty() {
      return self.bad(format!("{who}: accepted, but no final event"));
    }
    if let Some(r) = st.forgotten_in {
      if finals.iter().any(|(fr, _)| *fr > r) {
        return self.bad(format!(
          "{who}: final event after its registration was unregistered in round {r}"
        ));
      }
    }
    for w in finals.windows(2) {
      if w[0].0 == w[1].0 || !killed[w[0].0] {
        return self.bad(format!(
          "{who}: a second final event (rounds {} and {}), not after a kill",
          w[0].0, w[1].0
        ));
      }
    }
    let aborted = st.aborted;
    for (_, v) in &finals {
      if let Err(e) = check_final(f, aborted, v) {
        self.bad(format!("{who}: {e}: {v}"));
      }
    }
  }
}

/// One final event's report against what the fetch asked for.
fn check_final(f: &PlannedFetch, aborted: Aborted, v: &Value) -> Result<(), String> {
  let ev = v["ev"].as_str().unwrap_or("");
  let (result, reason) = (v["result"].as_str(), v["reason"].as_str().unwrap_or(""));
  let reasons = f.failure_reasons();
  match (ev, aborted) {
    ("backgroundfetchabort", Aborted::No) => return Err("an abort event, never aborted".into()),
    ("backgroundfetchabort", _) if reason != "aborted" || result != Some("failure") => {
      return Err("abort event without reason aborted".into())
    }
    (e, Aborted::Yes) if e != "backgroundfetchabort" => {
      return Err("aborted, but not an abort event".into())
    }
    ("backgroundfetchsuccess", _)
      if !f.can_succeed() || result != Some("success") || !reason.is_empty() =>
    {
      return Err(format!("success, but it can only fail ({reasons:?})"))
    }
    ("backgroundfetchfail", _) if result != Some("failure") || !reasons.contains(&reason) => {
      return Err(format!("fail with {reason:?}, expected one of {reasons:?}"))
    }
    ("backgroundfetchsuccess" | "backgroundfetchfail" | "backgroundfetchabort", _) => {}
    _ => return Err("not a final event".into()),
  }
  let success = ev == "backgroundfetchsuccess";
  let recs = v["records"].as_array().cloned().unwrap_or_default();
  if recs.len() != f.recs.len() {
    return Err(format!(
      "{} records, asked for {}",
      recs.len(),
      f.recs.len()
    ));
  }
  for (r, got) in f.recs.iter().zip(&recs) {
    if got["url"] != r.url.as_str() {
      return Err(format!("record {} for {}", got["url"], r.url));
    }
    let error = got["error"].as_str();
    let exact = r
      .body
      .as_ref()
      .is_some_and(|b| got["status"] == 200 && got["len"] == b.len() && got["sum"] == checksum(b));
    let ok = match r.kind {
      _ if success => exact,
      _ if error == Some("AbortError") => true,
      Rec::NotFound => got["status"] == 404 && got["len"] == 0,
      Rec::Refused => error == Some("TypeError"),
      Rec::Reset => error == Some("TypeError") || exact,
      _ => exact,
    };
    if !ok {
      return Err(format!("record {:?} came back as {got}", r.kind));
    }
  }
  let downloaded = v["downloaded"].as_u64().unwrap_or(u64::MAX);
  let bound = f.success_len();
  if success && (downloaded != f.success_len() || v["uploaded"] != f.upload_total()) {
    return Err(format!(
      "success with downloaded {downloaded}, uploaded {}",
      v["uploaded"]
    ));
  }
  if downloaded > bound {
    return Err(format!("downloaded {downloaded} > {bound}"));
  }
  if f.ui && ev != "backgroundfetchabort" && (v["ui1"] != "ok" || v["ui2"] != "InvalidStateError") {
    return Err("updateUI: once ok, then InvalidStateError".into());
  }
  Ok(())
}
