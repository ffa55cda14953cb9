// Activities: lifecycle with maker-checker, frozen versions of terms, eligibility, chances and
// the draw orchestration (eligibility -> chances -> points cost -> pool by customer group ->
// the draw engine).
//
// Lifecycle. A new activity is a draft (version 1). Submit sends the latest version to the
// ApprovalService (object type "activity", object id the activity id, digest the SHA-256 of
// the terms); the creator can never approve it (the service refuses self-decisions). When
// approved (OnDecided), and only if the approval's digest is still the version's, the version
// becomes the published one: the activity is scheduled until its window opens, live inside
// it, ended after it (computed from the clock). Operators pause, resume and end it. Approved
// terms are frozen: editing a published activity creates a new draft version, which needs its
// own approval; customers keep seeing the published version until then.
//
// Eligibility (in this order): black list refuses; white list admits; otherwise the audience
// or rule decides (neither: everyone, unless a white list is given, which then is the only
// way in). Channels and the window are checked first. The external verification hook, if the
// terms have one, is asked last (activity/verification.h).
//
// Chances per customer: free_per_day a day; with points_cost, further draws up to max_per_day
// cost points (spent through the points ledger with a key derived from the Idempotency-Key,
// reversed if the draw does not happen); max_total over the whole activity. Extra chances from
// tasks (activity/tasks_service.h) add to the free ones of the day they are credited.
//
// Thread safety: safe for concurrent use. The published terms are cached in memory and
// replaced atomically on every publish or phase change.
#ifndef MERCATOR_ACTIVITY_ACTIVITY_SERVICE_H_
#define MERCATOR_ACTIVITY_ACTIVITY_SERVICE_H_

#include <boost/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "activity/activity.h"
#include "activity/draw_call.h"
#include "activity/draw_engine.h"
#include "auth/approvals.h"
#include "common/clock.h"
#include "common/principal.h"
#include "customer/customer_service.h"
#include "segment/audience_service.h"
#include "store/activity_repository.h"

namespace mercator::reward {
class CouponService;
class PointsLedger;
}  // namespace mercator::reward

namespace mercator::activity {

class DrawGuard;
class EligibilityVerifier;

// What the service needs from the draw engine (activity/draw_engine.h, whose types it uses):
// EngineDrawPort (draw_port.h) implements it over the real engine; tests may use a fake.
class DrawPort {
 public:
  virtual ~DrawPort() = default;
  virtual absl::Status Load(const DrawTerms& terms) = 0;
  virtual absl::StatusOr<DrawResult> Draw(const DrawRequest& request) = 0;
  // Calls `done` once the draw is durable (possibly on the engine's writer thread: keep it
  // short) or with the error. The default runs Draw and calls `done` on the caller's thread.
  virtual void DrawAsync(const DrawRequest& request,
                         std::function<void(absl::StatusOr<DrawResult>)> done) {
    done(Draw(request));
  }
  virtual absl::StatusOr<std::optional<DrawResult>> Find(int64_t activity_id, uint32_t uid,
                                                         const std::string& idempotency_key) = 0;
  virtual absl::StatusOr<ChanceUsage> UsedChances(int64_t activity_id, uint32_t uid) = 0;
  virtual absl::StatusOr<std::vector<DrawResult>> MyPrizes(int64_t activity_id, uint32_t uid) = 0;
  virtual absl::StatusOr<DrawStats> Stats(int64_t activity_id) = 0;
  virtual absl::StatusOr<std::map<std::string, int64_t>> StockLeft(int64_t activity_id) = 0;
  virtual absl::StatusOr<std::string> DrawLogCsv(int64_t activity_id) = 0;
};

// Extra chances customers earned on a local day (task completions; activity/tasks_service.h
// implements it). Safe for concurrent use.
class ExtraChanceSource {
 public:
  virtual ~ExtraChanceSource() = default;
  virtual absl::StatusOr<int32_t> ExtraChancesOn(int64_t activity_id, uint32_t uid,
                                                 int64_t local_day) = 0;
};

// The engine's terms for a published version.
DrawTerms DrawTermsOf(int64_t activity_id, int32_t version, const ActivityTerms& terms);

struct ActivityServiceOptions {
  // How long an evaluated audience or rule (its member bitmap) is reused for eligibility and
  // pool choice; 0: evaluated on every request.
  int64_t membership_cache_ms = 5000;
};

// An activity with its versions' state as the operator sees it.
struct ActivityView {
  ActivityRecord record;
  ActivityVersion latest;
  std::optional<ActivityVersion> published;
  // draft, submitted, scheduled, live, paused, ended.
  std::string state;
};

// The published version of an activity, as customers see it.
struct Published {
  int64_t activity_id = 0;
  int32_t version = 0;
  ActivityPhase phase = ActivityPhase::kPublished;
  ActivityTerms terms;
  TemplateEngine engine = TemplateEngine::kDraw;
};

class ActivityService {
 public:
  // None owned; all but `draw` and `points` required and must outlive the service. Registers
  // the "activity" listener with `approvals` (construct before serving requests).
  ActivityService(ActivityRepository* repository, auth::ApprovalService* approvals,
                  AudienceService* audiences, CustomerService* customers, DrawPort* draw,
                  reward::PointsLedger* points, const Clock* clock,
                  ActivityServiceOptions options = {});
  ActivityService(const ActivityService&) = delete;
  ActivityService& operator=(const ActivityService&) = delete;

  // Loads the published versions into memory and into the draw engine (start-up).
  absl::Status LoadPublished();

  // Operator side. Terms errors are InvalidArgument "<path>: <reason>".
  absl::StatusOr<ActivityView> Create(const boost::json::value& terms, const Principal& actor);
  // A draft (or rejected) latest version is edited in place; an approved one gets a new draft
  // version; a submitted one is FailedPrecondition (withdraw it first).
  absl::StatusOr<ActivityView> Update(int64_t id, const boost::json::value& terms,
                                      const Principal& actor);
  absl::StatusOr<ActivityView> Get(int64_t id);
  absl::StatusOr<std::vector<ActivityView>> List(int64_t after_id, int limit);
  absl::StatusOr<std::vector<ActivityVersion>> Versions(int64_t id);
  absl::StatusOr<Approval> Submit(int64_t id, const Principal& actor,
                                  const auth::RequestMeta& meta);
  absl::StatusOr<ActivityView> Pause(int64_t id);
  absl::StatusOr<ActivityView> Resume(int64_t id);
  absl::StatusOr<ActivityView> End(int64_t id);
  absl::StatusOr<ActivityView> Clone(int64_t id, const Principal& actor);
  absl::Status Delete(int64_t id);
  absl::StatusOr<DrawStats> Stats(int64_t id);
  absl::StatusOr<std::string> DrawLogCsv(int64_t id);

  // Customer side (signed app clients).
  struct Visible {
    std::shared_ptr<const Published> activity;
    std::string state;
    int32_t chances_left = 0;  // -1: no limit
  };
  absl::StatusOr<std::vector<Visible>> VisibleTo(const std::string& external_id,
                                                 const std::string& channel);
  // One published activity as the customer sees it on `channel` (the H5 page's first call):
  // whether they can take part now (OK, or the error a draw would give: FailedPrecondition
  // "activity: has ended" / "activity: not live (...)", PermissionDenied "...: not eligible
  // ..."), their chances left today (-1: no limit or not a lottery) and their prize pool's id
  // (lotteries). NotFound if the activity is not published or the customer is unknown.
  struct CustomerView {
    std::shared_ptr<const Published> activity;
    absl::Status can_take_part;
    int32_t chances_left = -1;
    std::string pool_id;
  };
  absl::StatusOr<CustomerView> ViewFor(int64_t id, const std::string& external_id,
                                       const std::string& channel);
  struct DrawOutcome {
    DrawResult result;
    int64_t points_spent = 0;
  };
  // Rate limits and the risk check on draws (activity/draw_guard.h) and the eligibility
  // verification hook (activity/verification.h); nullptr: not applied (a hook in the terms is
  // then not called). Not owned; set before serving requests.
  void SetDrawProtection(DrawGuard* guard, EligibilityVerifier* verifier) {
    guard_ = guard;
    verifier_ = verifier;
  }
  // The coupon and benefit templates that prizes and template rewards name are checked against
  // it when terms are saved and submitted (a template that does not exist or is disabled is a
  // 400 naming the member); nullptr: not checked. Not owned; set before serving requests.
  void SetCoupons(reward::CouponService* coupons) { coupons_ = coupons; }
  // NotFound (activity or customer), FailedPrecondition "activity: not live (...)",
  // ResourceExhausted "draw: too many draws ..." with a Retry-After (rate limits),
  // PermissionDenied "risk: draw refused (<reason>)" (risk check),
  // PermissionDenied "customer: not eligible ...", ResourceExhausted "no chances left".
  // The prelude (customer, replay, eligibility, chances, points) runs on the caller's thread;
  // DrawAsync then hands the draw to the engine and calls `done` once it is durable (on the
  // engine's writer thread) or at once with an error. Points spent for a draw that fails are
  // reversed before `done` runs. Draw is DrawAsync waiting for its answer.
  using DrawDone = std::function<void(absl::StatusOr<DrawOutcome>)>;
  void DrawAsync(const DrawCall& call, DrawDone done);
  absl::StatusOr<DrawOutcome> Draw(const DrawCall& call);
  absl::StatusOr<std::vector<DrawResult>> MyPrizes(int64_t id, const std::string& external_id);
  // The published terms for the rules page: prizes with odds, stock, limits, dates.
  absl::StatusOr<boost::json::object> Rules(int64_t id);

  // For the other templates' services (sign-in, quiz, tasks), which share the activity's
  // lifecycle and eligibility. A published activity and a customer, with no other check:
  // NotFound if either is unknown.
  struct Participant {
    std::shared_ptr<const Published> activity;
    CustomerRecord customer;
  };
  absl::StatusOr<Participant> FindParticipant(int64_t id, const std::string& external_id);
  // Live and eligible, on `channel` unless it is nullptr (any of the activity's channels):
  // FailedPrecondition "activity: ..." or PermissionDenied "...: not eligible ...".
  absl::Status CheckCanTakePart(const Published& p, const CustomerRecord& customer,
                                const std::string* channel);
  // Every published activity (any state), for the events module's task completions.
  std::vector<std::shared_ptr<const Published>> PublishedActivities() ABSL_LOCKS_EXCLUDED(mu_);
  // Where task chances come from (nullptr: none). Set before serving requests.
  void SetExtraChanceSource(ExtraChanceSource* source) { extra_chances_ = source; }

  // The approval listener (public for tests that drive decisions directly).
  void OnDecided(const Approval& approval);

  // draft, submitted, scheduled, live, paused, ended at `now_ms`.
  static std::string StateOf(const ActivityRecord& record, const ActivityVersion& latest,
                             const ActivityTerms* published_terms, int64_t now_ms);

 private:
  // A customer's uid and external id (NotFound if unknown or erased), without a store read
  // after the first time.
  absl::StatusOr<CustomerRecord> Lookup(const std::string& external_id);
  absl::StatusOr<ActivityTerms> CheckTerms(const boost::json::value& json);
  absl::StatusOr<ActivityView> View(int64_t id);
  absl::StatusOr<ActivityView> ViewOf(const ActivityRecord& record);
  absl::Status Refresh(int64_t id);
  std::shared_ptr<const Published> FindPublished(int64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // Is `uid` a member of the audience or rule (cached bitmaps)?
  absl::StatusOr<bool> AudienceHas(int64_t audience_id, uint32_t uid);
  absl::StatusOr<bool> RuleHas(const std::string& dsl, uint32_t uid);
  // Not eligible: PermissionDenied naming why.
  absl::Status CheckEligible(const Published& p, const CustomerRecord& customer,
                             const std::string& channel);
  absl::StatusOr<const PoolGroup*> PoolFor(const Published& p, uint32_t uid);
  absl::Status CheckLive(const Published& p);
  // A draw the prelude has admitted (or a replay), ready for the engine.
  struct PreparedDraw {
    DrawRequest request;
    int64_t spent_entry_id = 0;  // the points ledger entry to reverse if the draw fails
    int64_t points_spent = 0;
    std::string spend_key;
  };
  absl::StatusOr<PreparedDraw> PrepareDraw(const DrawCall& call);
  // The engine's answer to a prepared draw: reverses the points if it failed.
  absl::StatusOr<DrawOutcome> FinishDraw(const PreparedDraw& prepared,
                                         absl::StatusOr<DrawResult> result);
  // A customer's chances today. Free ones are free_per_day plus the day's task chances; with
  // points_cost, paid draws fill up to max_per_day; max_per_day caps the day either way and
  // max_total the activity. ResourceExhausted "chances: no chances left" when the day allows
  // none (so 0 never reaches the engine, where it means "no limit").
  struct ChanceLimits {
    int32_t today = 0;       // draws allowed today (> 0)
    int32_t total = 0;       // draws allowed over the activity; 0: no limit
    int32_t free_today = 0;  // draws today that cost no points
  };
  absl::StatusOr<ChanceLimits> LimitsFor(const Published& p, uint32_t uid);
  // Draws left today for a lottery customer (0 when none), within max_total.
  absl::StatusOr<int32_t> ChancesLeft(const Published& p, uint32_t uid);

  ActivityRepository* const repository_;
  auth::ApprovalService* const approvals_;
  AudienceService* const audiences_;
  CustomerService* const customers_;
  DrawPort* const draw_;
  reward::PointsLedger* const points_;
  const Clock* const clock_;
  const ActivityServiceOptions options_;
  ExtraChanceSource* extra_chances_ = nullptr;
  DrawGuard* guard_ = nullptr;
  EligibilityVerifier* verifier_ = nullptr;
  reward::CouponService* coupons_ = nullptr;

  // Lock order: mu_ and cache_mu_ are leaves, never held together or across calls out.
  absl::Mutex mu_;
  std::map<int64_t, std::shared_ptr<const Published>> published_ ABSL_GUARDED_BY(mu_);
  struct CachedMembers {
    std::shared_ptr<const Roaring> members;
    int64_t at_ms = 0;
  };
  absl::Mutex cache_mu_;
  std::map<std::string, CachedMembers> members_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_ACTIVITY_SERVICE_H_
