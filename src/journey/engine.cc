#include "journey/engine.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstring>
#include <roaring/roaring.hh>

#include "common/background.h"
#include "common/log.h"
#include "common/mask.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "customer/customer_service.h"
#include "customer/tag.h"
#include "outreach/outreach.h"
#include "reward/coupons.h"
#include "reward/points_ledger.h"
#include "segment/bitmap_index.h"
#include "segment/dsl.h"
#include "store/repository.h"
#include "workbench/task_sink.h"

namespace mercator::journey {

namespace json = boost::json;

namespace {

constexpr std::string_view kEventsCursor = "events";
// Days a date trigger catches up after downtime.
constexpr int64_t kMaxDateCatchUpDays = 31;

std::string DateText(int64_t day) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(day, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string SerializeBitmap(const Roaring& r) {
  std::string out(r.getSizeInBytes(), '\0');
  r.write(out.data());
  return out;
}

bool IsLifecycleMatch(const Trigger& t, const event::Event& e) {
  if (e.type != event::kLifecycleChanged) return false;
  auto prop = [&](const char* name) -> std::string {
    auto it = e.properties.find(name);
    if (it == e.properties.end()) return "";
    const auto* s = std::get_if<std::string>(&it->second);
    return s != nullptr ? *s : "";
  };
  if (!t.from_stage.empty() && prop("from") != t.from_stage) return false;
  if (!t.to_stage.empty() && prop("to") != t.to_stage) return false;
  return true;
}

}  // namespace

// Customers whose date tag is `day` (or, annual, has its month and day in any year; 29 Feb
// birthdays are celebrated on 28 Feb in other years).
Rule DateTriggerRule(const Trigger& t, int64_t day) {
  if (!t.annual) return Rule::Compare(t.date_tag, CompareOp::kEq, Literal::String(DateText(day)));
  int64_t y = 0;
  unsigned m = 0, d = 0;
  CivilFromDays(day, &y, &m, &d);
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  std::vector<Literal> dates;
  for (int64_t year = 1900; year <= y; ++year) {
    dates.push_back(Literal::String(fmt::format("{:04}-{:02}-{:02}", year, m, d)));
    if (!leap && m == 2 && d == 28) {
      const bool year_leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
      if (year_leap) dates.push_back(Literal::String(fmt::format("{:04}-02-29", year)));
    }
  }
  return Rule::In(t.date_tag, std::move(dates));
}

absl::StatusOr<std::shared_ptr<const Compiled>> Compile(int64_t journey_id, int32_t version,
                                                        const std::string& definition_json) {
  boost::system::error_code ec;
  json::value doc = json::parse(definition_json, ec);
  if (ec)
    return absl::DataLossError(
        fmt::format("journey {}: stored definition is not JSON", journey_id));
  auto c = std::make_shared<Compiled>();
  c->journey_id = journey_id;
  c->version = version;
  ASSIGN_OR_RETURN(c->def, ParseDefinition(doc));
  auto add_rule = [&](const std::string& dsl, const std::string& field) -> absl::Status {
    if (c->rules.contains(dsl)) return absl::OkStatus();
    absl::StatusOr<Rule> r = ParseDsl(dsl);
    if (!r.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", field, std::string(r.status().message())));
    }
    c->rules.emplace(dsl, std::move(*r));
    return absl::OkStatus();
  };
  if (c->def.trigger.kind == TriggerKind::kAudience) {
    RETURN_IF_ERROR(add_rule(c->def.trigger.rule, "trigger.rule"));
  }
  for (size_t i = 0; i < c->def.steps.size(); ++i) {
    const Step& s = c->def.steps[i];
    if (s.kind == StepKind::kBranch && !s.rule.empty()) {
      RETURN_IF_ERROR(add_rule(s.rule, fmt::format("steps[{}].rule", i)));
    }
  }
  return std::shared_ptr<const Compiled>(std::move(c));
}

bool InHoldout(int64_t journey_id, uint32_t uid, int32_t percent) {
  if (percent <= 0) return false;
  // SipHash keyed by the journey: stable for a customer, independent between journeys.
  unsigned char key[crypto_shorthash_KEYBYTES] = {'m', 'e', 'r', 'c', 'a', 't', 'o', 'r'};
  for (int i = 0; i < 8; ++i) key[8 + i] = static_cast<unsigned char>(journey_id >> (8 * i));
  unsigned char in[4];
  for (int i = 0; i < 4; ++i) in[i] = static_cast<unsigned char>(uid >> (8 * i));
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, in, sizeof in, key);
  uint64_t h = 0;
  std::memcpy(&h, out, sizeof h);
  return h % 10000 < static_cast<uint64_t>(percent) * 100;
}

std::string ActionKey(const JourneyEntry& entry, std::string_view step) {
  return fmt::format("journey:{}:{}:{}:{}:{}", entry.journey_id, entry.version, entry.customer,
                     entry.entry_no, step);
}

Engine::Engine(JourneyRepository* repository, event::EventLog* events, const SegmentIndex* index,
               CustomerRepository* customers, ActionPorts ports, const Clock* clock,
               EngineOptions options)
    : repository_(repository),
      events_(events),
      index_(index),
      customers_(customers),
      ports_(ports),
      clock_(clock),
      options_(options) {}

Engine::~Engine() { Stop(); }

absl::Status Engine::Reload() {
  static constexpr JourneyState kRunning[] = {JourneyState::kLive, JourneyState::kPaused};
  ASSIGN_OR_RETURN(std::vector<JourneyRecord> records, repository_->ListInStates(kRunning));
  std::vector<Live> live;
  for (JourneyRecord& r : records) {
    if (r.live_version == 0) continue;
    absl::StatusOr<std::shared_ptr<const Compiled>> c = Version(r.id, r.live_version);
    if (!c.ok()) {
      Log(Severity::kError, "journey not loaded",
          {{"journey", std::to_string(r.id)}, {"error", std::string(c.status().message())}});
      continue;
    }
    absl::StatusOr<std::vector<JourneyVersion>> versions = repository_->Versions(r.id);
    if (!versions.ok()) return versions.status();
    int64_t since = INT64_MAX;
    for (const JourneyVersion& v : *versions) {
      if (v.status == JourneyVersionStatus::kApproved ||
          v.status == JourneyVersionStatus::kSuperseded) {
        since = std::min(since, v.decided_ms);
      }
    }
    live.push_back(Live{std::move(r), *std::move(c), since});
  }
  absl::MutexLock lock(&mu_);
  live_ = std::move(live);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Compiled>> Engine::Version(int64_t journey_id,
                                                                int32_t version) {
  {
    absl::MutexLock lock(&mu_);
    auto it = versions_.find({journey_id, version});
    if (it != versions_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::optional<JourneyVersion> v, repository_->GetVersion(journey_id, version));
  if (!v) {
    return absl::NotFoundError(fmt::format("journey {} version {} not found", journey_id, version));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> c,
                   Compile(journey_id, version, v->definition_json));
  // Versions that were live are frozen, so the cache never goes stale.
  absl::MutexLock lock(&mu_);
  versions_[{journey_id, version}] = c;
  return c;
}

std::vector<Engine::Live> Engine::LiveJourneys() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

EntryCandidate Engine::Candidate(const Compiled& c, uint32_t uid, std::string customer,
                                 int64_t now_ms, int64_t entered_ms) const {
  EntryCandidate cand;
  JourneyEntry& e = cand.entry;
  e.journey_id = c.journey_id;
  e.version = c.version;
  e.uid = uid;
  e.customer = std::move(customer);
  e.entered_ms = std::min(entered_ms, now_ms);
  e.goal_until_ms = c.def.goal ? now_ms + c.def.GoalWindowMs() : 0;
  e.holdout = InHoldout(c.journey_id, uid, c.def.holdout_percent);
  if (e.holdout) {
    // No steps: the entry only waits for its goal window to close.
    e.step = "";
    e.due_ms = e.goal_until_ms;
  } else {
    e.step = c.def.start;
    const Step* s = c.def.Find(c.def.start);
    e.due_ms = s->kind == StepKind::kWait ? WaitEnd(c.def, *s, now_ms) : now_ms;
  }
  cand.min_gap_ms = c.def.reentry == Reentry::kAfter ? c.def.reentry_days * kDayMs : 0;
  return cand;
}

absl::Status Engine::AddCandidates(const Compiled& c, const std::vector<uint32_t>& uids,
                                   int64_t now_ms, IngestBatch& batch) {
  constexpr size_t kChunk = 5000;
  for (size_t i = 0; i < uids.size(); i += kChunk) {
    std::span<const uint32_t> chunk(uids.data() + i, std::min(kChunk, uids.size() - i));
    ASSIGN_OR_RETURN(std::vector<std::string> ids, customers_->ExternalIds(chunk));
    for (size_t j = 0; j < chunk.size() && j < ids.size(); ++j) {
      if (ids[j].empty()) continue;  // erased meanwhile
      batch.entries.push_back(Candidate(c, chunk[j], std::move(ids[j]), now_ms, now_ms));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Engine::PassReport> Engine::IngestEvents() {
  absl::MutexLock lock(&run_mu_);
  return IngestEventsLocked();
}

absl::StatusOr<Engine::PassReport> Engine::IngestEventsLocked() {
  PassReport report;
  if (events_ == nullptr) return report;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, repository_->Cursor(kEventsCursor));
  uint64_t cursor = 0;
  if (stored) std::from_chars(stored->data(), stored->data() + stored->size(), cursor);
  if (events_->LastSeq() <= cursor) return report;
  const std::vector<Live> live = LiveJourneys();
  const int64_t now = clock_->NowMs();
  IngestBatch batch;
  uint64_t last = cursor;
  RETURN_IF_ERROR(events_->ReadAfter(
      cursor, static_cast<size_t>(options_.event_batch), [&](const event::Event& e) {
        last = e.seq;
        ++report.events;
        // History loaded from files (backfill) neither enters nor converts anyone.
        if (e.source == event::kSourceImport) return true;
        for (const Live& j : live) {
          if (e.received_ms < j.live_since_ms) continue;
          const Definition& d = j.compiled->def;
          if (d.goal && e.type == d.goal->event_type && Matches(d.goal->where, e.properties)) {
            batch.conversions.push_back(Conversion{j.record.id, e.uid, e.occurred_ms});
          }
          if (j.record.state != JourneyState::kLive) continue;
          const bool enters =
              (d.trigger.kind == TriggerKind::kEvent && e.type == d.trigger.event_type &&
               Matches(d.trigger.where, e.properties)) ||
              (d.trigger.kind == TriggerKind::kLifecycle && IsLifecycleMatch(d.trigger, e));
          if (enters) {
            batch.entries.push_back(Candidate(*j.compiled, e.uid, e.customer, now, e.occurred_ms));
          }
        }
        return true;
      }));
  if (last == cursor) return report;
  batch.cursors[std::string(kEventsCursor)] = std::to_string(last);
  ASSIGN_OR_RETURN(IngestResult r, repository_->Ingest(batch));
  report.entered = r.entered;
  report.refused = r.refused;
  report.converted = r.converted;
  return report;
}

absl::StatusOr<Engine::PassReport> Engine::EvaluateTriggers() {
  absl::MutexLock lock(&run_mu_);
  return EvaluateTriggersLocked();
}

absl::StatusOr<Engine::PassReport> Engine::EvaluateTriggersLocked() {
  PassReport report;
  const int64_t now = clock_->NowMs();
  last_trigger_ms_ = now;
  for (const Live& j : LiveJourneys()) {
    if (j.record.state != JourneyState::kLive) continue;
    const Compiled& c = *j.compiled;
    const Trigger& t = c.def.trigger;
    if (t.kind == TriggerKind::kAudience) {
      const std::string name = fmt::format("audience:{}:{}", c.journey_id, c.version);
      ASSIGN_OR_RETURN(Roaring members, index_->Evaluate(c.rules.at(t.rule)));
      ASSIGN_OR_RETURN(std::optional<std::string> stored, repository_->Cursor(name));
      IngestBatch batch;
      if (stored) {
        Roaring previous = Roaring::readSafe(stored->data(), stored->size());
        if (previous == members) continue;
        Roaring entering = members - previous;
        std::vector<uint32_t> uids(entering.cardinality());
        entering.toUint32Array(uids.data());
        RETURN_IF_ERROR(AddCandidates(c, uids, now, batch));
      }
      // The first evaluation is the baseline: customers already in the audience when the
      // journey went live did not enter it.
      members.runOptimize();
      batch.cursors[name] = SerializeBitmap(members);
      ASSIGN_OR_RETURN(IngestResult r, repository_->Ingest(batch));
      report.entered += r.entered;
      report.refused += r.refused;
    } else if (t.kind == TriggerKind::kDate) {
      const std::string name = fmt::format("date:{}:{}", c.journey_id, c.version);
      const int64_t today = LocalDay(c.def, now);
      const int64_t minute =
          (now + c.def.tz_offset_minutes * kMinuteMs - today * kDayMs) / kMinuteMs;
      ASSIGN_OR_RETURN(std::optional<std::string> stored, repository_->Cursor(name));
      int64_t last = today - 1;
      if (stored) std::from_chars(stored->data(), stored->data() + stored->size(), last);
      last = std::max(last, today - kMaxDateCatchUpDays);
      for (int64_t day = last + 1; day <= today; ++day) {
        if (day == today && minute < t.at_minute) break;
        ASSIGN_OR_RETURN(Roaring members,
                         index_->Evaluate(DateTriggerRule(t, day - t.offset_days)));
        std::vector<uint32_t> uids(members.cardinality());
        members.toUint32Array(uids.data());
        IngestBatch batch;
        RETURN_IF_ERROR(AddCandidates(c, uids, now, batch));
        batch.cursors[name] = std::to_string(day);
        ASSIGN_OR_RETURN(IngestResult r, repository_->Ingest(batch));
        report.entered += r.entered;
        report.refused += r.refused;
      }
    }
  }
  return report;
}

absl::StatusOr<Engine::PassReport> Engine::RunDueBatch() {
  absl::MutexLock lock(&run_mu_);
  return RunDueLocked();
}

absl::StatusOr<Engine::PassReport> Engine::RunDueLocked() {
  PassReport report;
  const int64_t now = clock_->NowMs();
  for (const Live& j : LiveJourneys()) {
    if (j.record.state != JourneyState::kLive) continue;
    ASSIGN_OR_RETURN(std::vector<JourneyEntry> due,
                     repository_->Due(j.record.id, now, options_.step_batch));
    if (due.empty()) continue;
    std::vector<EntryUpdate> updates;
    updates.reserve(due.size());
    std::vector<ActionRecord> actions;
    // Rule members, evaluated once per batch.
    std::map<std::pair<int32_t, std::string>, Roaring> members;
    for (const JourneyEntry& e : due) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Compiled> c, Version(e.journey_id, e.version));
      const Definition& d = c->def;
      EntryUpdate u;
      u.id = e.id;
      u.from_step = e.step;
      u.due_ms = e.due_ms;
      std::string cur = e.step;
      // Steps form no cycle (ParseDefinition), so this ends within d.steps.size() + 1 rounds.
      for (;;) {
        ++report.steps;
        if (cur.empty()) {
          // The goal window closed without a conversion.
          u.step = "";
          u.state = EntryState::kCompleted;
          u.ended_ms = now;
          break;
        }
        const Step* s = d.Find(cur);
        std::string next;
        if (s == nullptr) {
          next = "";  // cannot happen for a frozen version; end the steps rather than loop
        } else if (s->kind == StepKind::kWait) {
          next = s->next;
        } else if (s->kind == StepKind::kBranch) {
          bool yes = false;
          if (!s->rule.empty()) {
            auto key = std::make_pair(c->version, s->rule);
            auto it = members.find(key);
            if (it == members.end()) {
              ASSIGN_OR_RETURN(Roaring r, index_->Evaluate(c->rules.at(s->rule)));
              it = members.emplace(key, std::move(r)).first;
            }
            yes = it->second.contains(e.uid);
          } else if (events_ != nullptr) {
            yes = events_->HappenedSince(e.uid, s->event_type, now - s->within_ms);
          }
          next = yes ? s->then_step : s->else_step;
        } else {
          ++report.actions;
          ActionRecord a;
          a.entry_id = e.id;
          a.journey_id = e.journey_id;
          a.step = s->id;
          a.at_ms = now;
          const std::string key = ActionKey(e, s->id);
          absl::Status failed;
          switch (s->action) {
            case ActionKind::kSend: {
              if (ports_.outreach == nullptr) {
                failed = absl::UnavailableError("outreach is not configured");
                break;
              }
              outreach::Message m;
              m.uid = e.uid;
              m.customer = e.customer;
              m.channel = s->channel;
              m.purpose = s->purpose;
              m.template_id = s->template_id;
              m.variables = s->variables;
              m.origin = fmt::format("journey:{}:step:{}", e.journey_id, s->id);
              m.dedupe_key = key;
              absl::StatusOr<outreach::SendResult> r = ports_.outreach->Send(m);
              if (!r.ok()) {
                failed = r.status();
              } else if (r->outcome == outreach::SendResult::Outcome::kSent) {
                a.outcome = "sent";
                a.detail = r->message_id;
              } else {
                a.outcome = r->outcome == outreach::SendResult::Outcome::kSuppressed ? "suppressed"
                                                                                     : "failed";
                a.detail = r->reason;
              }
              break;
            }
            case ActionKind::kPoints: {
              if (ports_.points == nullptr) {
                failed = absl::UnavailableError("the points ledger is not configured");
                break;
              }
              // The lot's expiry counts from when the entry fell due, not from now: a re-run
              // after a crash must ask the ledger exactly the same (same key, same request).
              absl::StatusOr<PointsEntry> r = ports_.points->Earn(
                  e.uid, s->points, e.due_ms + s->valid_days * kDayMs,
                  fmt::format("journey:{}", e.journey_id), key, "system:journeys");
              if (!r.ok()) {
                failed = r.status();
              } else {
                a.outcome = "granted";
                a.detail = fmt::format("points_entry:{}", r->id);
              }
              break;
            }
            case ActionKind::kCoupon: {
              if (ports_.coupons == nullptr) {
                failed = absl::UnavailableError("the coupon service is not configured");
                break;
              }
              absl::StatusOr<CouponCode> r =
                  ports_.coupons->Grant(s->coupon_template_id, e.uid, key);
              if (!r.ok()) {
                failed = r.status();
              } else {
                a.outcome = "granted";
                a.detail = fmt::format("coupon_code:{}", r->id);
              }
              break;
            }
            case ActionKind::kTask: {
              if (ports_.tasks == nullptr) {
                failed = absl::UnavailableError("the workbench task sink is not configured");
                break;
              }
              workbench::TaskRequest t;
              t.uid = e.uid;
              t.customer = e.customer;
              t.kind = s->task_kind;
              t.title = s->title;
              t.reason = s->reason.empty() ? d.name : s->reason;
              t.priority = s->priority;
              t.due_ms = e.due_ms + s->due_in_ms;  // the same on a re-run
              t.origin = fmt::format("journey:{}:step:{}", e.journey_id, s->id);
              t.dedupe_key = key;
              absl::StatusOr<int64_t> r = ports_.tasks->CreateTask(t);
              if (!r.ok()) {
                failed = r.status();
              } else {
                a.outcome = "created";
                a.detail = fmt::format("task:{}", *r);
              }
              break;
            }
            case ActionKind::kSetTag: {
              if (ports_.customers == nullptr) {
                failed = absl::UnavailableError("the customer service is not configured");
                break;
              }
              CustomerUpsert up;
              up.external_id = e.customer;
              absl::StatusOr<TagDef> def = ports_.customers->GetTag(s->tag);
              if (!def.ok()) {
                failed = def.status();
                break;
              }
              absl::StatusOr<TagValue> v = ParseTagValue(*def, s->tag_value);
              if (!v.ok()) {
                failed = v.status();
                break;
              }
              up.tags[s->tag] = *std::move(v);
              std::vector<CustomerUpsert> batch;
              batch.push_back(std::move(up));
              absl::Status st = ports_.customers->Upsert(std::move(batch)).status();
              if (!st.ok()) {
                failed = st;
              } else {
                a.outcome = "tagged";
                a.detail = fmt::format("{}={}", s->tag, s->tag_value);
              }
              break;
            }
          }
          if (!failed.ok()) {
            if (absl::IsUnavailable(failed) && a.detail.empty() &&
                failed.message().find("not configured") == std::string_view::npos) {
              // A transient failure (storage, a channel down): try this entry again later,
              // from this step, with the same key, or leave it stuck here for an operator.
              // Attempts counted at another step were reset when the entry moved on.
              u.step = cur;
              u.attempts = (cur == e.step ? e.attempts : 0) + 1;
              // Shown to operators and logged: a channel's message may quote a number.
              u.last_error = MaskNumbersInText(ToStd(failed.message()));
              if (u.attempts >= options_.max_attempts) {
                u.state = EntryState::kStuck;
                // A stuck entry keeps the time it got stuck in due_ms (JourneyEntry): it is in
                // no queue, the due index covers active entries only.
                u.due_ms = now;
                ++report.stuck;
                Log(Severity::kWarn, "journey entry stuck after transient failures",
                    {{"journey.id", std::to_string(e.journey_id)},
                     {"journey.entry_id", std::to_string(e.id)},
                     {"journey.step", cur},
                     {"journey.attempts", std::to_string(u.attempts)},
                     {"error", u.last_error}});
              } else {
                u.state = EntryState::kActive;
                u.due_ms = now + RetryDelayMs(options_, u.attempts);
                ++report.retried;
              }
              break;
            }
            a.outcome = "failed";
            a.detail = std::string(failed.message());
          }
          actions.push_back(std::move(a));
          next = s->next;
        }
        if (next.empty()) {
          if (e.goal_until_ms > now) {
            u.step = "";
            u.state = EntryState::kActive;
            u.due_ms = e.goal_until_ms;
          } else {
            u.step = "";
            u.state = EntryState::kCompleted;
            u.ended_ms = now;
          }
          break;
        }
        const Step* n = d.Find(next);
        if (n != nullptr && n->kind == StepKind::kWait) {
          u.step = next;
          u.state = EntryState::kActive;
          u.due_ms = WaitEnd(d, *n, now);
          break;
        }
        cur = next;
      }
      updates.push_back(std::move(u));
    }
    RETURN_IF_ERROR(repository_->Advance(updates, actions).status());
  }
  return report;
}

int64_t RetryDelayMs(const EngineOptions& options, int32_t failed_attempts) {
  int64_t delay = std::max<int64_t>(options.retry_base_ms, 1);
  for (int32_t i = 1; i < failed_attempts && delay < options.retry_max_delay_ms; ++i) delay *= 2;
  return std::min(delay, options.retry_max_delay_ms);
}

absl::StatusOr<Engine::PassReport> Engine::RunOnce() {
  absl::MutexLock lock(&run_mu_);
  PassReport total;
  auto add = [&total](const PassReport& r) {
    total.events += r.events;
    total.entered += r.entered;
    total.refused += r.refused;
    total.converted += r.converted;
    total.steps += r.steps;
    total.actions += r.actions;
    total.retried += r.retried;
    total.stuck += r.stuck;
  };
  for (;;) {
    ASSIGN_OR_RETURN(PassReport r, IngestEventsLocked());
    add(r);
    if (r.events < options_.event_batch) break;
  }
  if (clock_->NowMs() - last_trigger_ms_ >= options_.trigger_interval_ms) {
    ASSIGN_OR_RETURN(PassReport r, EvaluateTriggersLocked());
    add(r);
  }
  for (;;) {
    ASSIGN_OR_RETURN(PassReport r, RunDueLocked());
    add(r);
    if (r.steps == 0) break;
  }
  if (observer_) observer_(total);
  return total;
}

void Engine::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&wake_mu_);
    stop_ = false;
  }
  if (events_ != nullptr) {
    subscription_ = events_->Subscribe([this](uint64_t) {
      absl::MutexLock lock(&wake_mu_);
      wake_ = true;
    });
  }
  thread_ = std::thread([this] {
    BecomeBackgroundThread("mct-journeys");
    Loop();
  });
}

void Engine::Stop() {
  if (!thread_.joinable()) return;
  if (events_ != nullptr && subscription_ >= 0) {
    events_->Unsubscribe(subscription_);
    subscription_ = -1;
  }
  {
    absl::MutexLock lock(&wake_mu_);
    stop_ = true;
  }
  thread_.join();
}

void Engine::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&wake_mu_);
      const auto woken = [this]()
                             ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) { return wake_ || stop_; };
      wake_mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(options_.interval_ms));
      if (stop_) return;
      wake_ = false;
    }
    absl::StatusOr<PassReport> r = RunOnce();
    if (!r.ok()) {
      Log(Severity::kError, "journey pass failed", {{"error", std::string(r.status().message())}});
    }
  }
}

}  // namespace mercator::journey
