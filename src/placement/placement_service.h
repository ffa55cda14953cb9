// In-app placements: cards and banners the mobile-banking app shows in a slot ("home_banner",
// "wealth_card"), defined by operators, approved by maker-checker, and served to the app
// back-end per customer (docs/placements.md).
//
// Definition (JSON):
//   {"slot": "home_banner", "title": "...", "body": "...",
//    "image_url": "https://...", "link_url": "https://...",
//    "audience": {"audience_id": 3} | {"rule": "aum >= 50000"},   (optional: everyone)
//    "priority": 10, "start_at": "2026-11-24T09:00:00+08:00", "end_at": "...",
//    "daily_cap": 3, "purpose": "marketing"}
//
// Lifecycle: draft -> submitted (object type "placement", digest of the stored definition) ->
// live (approved; a rejection or withdrawal goes back to draft) <-> paused; ended from any
// state but submitted. Only a draft can be edited.
//
// Serving. Serve(slot, customer) returns the live placements of the slot whose window holds
// now (start <= now < end), whose audience contains the customer and, for marketing, which the
// contact policy does not hide (the do-not-disturb list and an opt-out of "in_app" or "*"; the
// push-only rules, consent and quiet hours, do not apply to a card inside the app the customer
// opened), by priority (higher first, then older first), at most `limit`. Each card served is
// recorded as an impression unless the customer already saw the placement `daily_cap` times
// that local day (then the next placement takes its place). An impression's random token is
// also a tracked link (/t/<token>, outreach_links) to the card's link_url, so opens are clicks.
//
// Audience membership is evaluated on the segment index and cached per placement for
// `cache_ms` (a tag change shows within that time, not per request).
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_PLACEMENT_PLACEMENT_SERVICE_H_
#define MERCATOR_PLACEMENT_PLACEMENT_SERVICE_H_

#include <roaring/roaring.hh>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/approvals.h"
#include "common/clock.h"
#include "common/principal.h"
#include "store/placement_repository.h"

namespace boost::json {
class value;
}  // namespace boost::json

namespace mercator {
class AudienceService;
class CustomerService;
class OutreachRepository;
namespace outreach {
class ContactPolicy;
}  // namespace outreach
}  // namespace mercator

namespace mercator::placement {

struct Definition {
  std::string slot;
  std::string title;
  std::string body;
  std::string image_url;
  std::string link_url;
  int64_t audience_id = 0;  // a saved audience (its rule, evaluated live), or
  std::string rule;         // a rule in the DSL; neither: every customer
  int64_t priority = 0;     // higher first
  int64_t start_ms = 0;     // 0: from approval
  int64_t end_ms = 0;       // exclusive; 0: until ended
  int64_t daily_cap = 0;    // impressions per customer per local day; 0: no cap
  std::string purpose = "marketing";
};

// Parses and validates a definition; InvalidArgument names the member ("end_at: must be after
// start_at"). Does not look at audiences (PlacementService does on submit).
absl::StatusOr<Definition> ParseDefinition(const boost::json::value& json);

// What the app shows, plus the tracked link. No priority, audience or cap.
struct Card {
  int64_t placement_id = 0;
  std::string slot;
  std::string title;
  std::string body;
  std::string image_url;
  std::string link_url;  // shown in previews; served cards carry the tracked link instead
  std::string purpose;
  std::string token;  // the impression (and tracked link) token; empty in a preview
};

struct DayStats {
  int64_t local_day = 0;  // days since 1970-01-01 in the policy's time zone
  int64_t impressions = 0;
  int64_t customers = 0;
  int64_t clicks = 0;
};

struct Stats {
  PlacementRow placement;
  int64_t impressions = 0;
  int64_t customers = 0;
  int64_t clicks = 0;
  std::vector<DayStats> days;
};

struct PlacementServiceOptions {
  int64_t cache_ms = 5000;  // how long a placement's member bitmap is reused
};

class PlacementService {
 public:
  // Serve records impressions; a preview (a staff member looking) records nothing.
  enum class Mode { kRecord, kPreview };

  // None of the pointers is owned; all must outlive the service. Registers the approval
  // listener for "placement".
  PlacementService(PlacementRepository* repo, auth::ApprovalService* approvals,
                   AudienceService* audiences, CustomerService* customers,
                   outreach::ContactPolicy* policy, OutreachRepository* outreach_repo,
                   const Clock* clock, PlacementServiceOptions options = {});
  PlacementService(const PlacementService&) = delete;
  PlacementService& operator=(const PlacementService&) = delete;

  absl::StatusOr<PlacementRow> Create(const boost::json::value& definition, const Principal& actor);
  // Drafts only (FailedPrecondition otherwise).
  absl::StatusOr<PlacementRow> Update(int64_t id, const boost::json::value& definition);
  absl::StatusOr<PlacementRow> Get(int64_t id);
  absl::StatusOr<std::vector<PlacementRow>> List(int64_t after_id, int limit,
                                                 std::string_view status, std::string_view slot);

  // Checks the audience exists (or the rule evaluates), then submits for approval.
  absl::StatusOr<Approval> Submit(int64_t id, const Principal& actor,
                                  const auth::RequestMeta& meta);
  absl::StatusOr<PlacementRow> Pause(int64_t id);
  absl::StatusOr<PlacementRow> Resume(int64_t id);
  absl::StatusOr<PlacementRow> End(int64_t id);

  // The cards for a customer now (see the header comment). NotFound for an unknown customer;
  // InvalidArgument for a bad slot or limit (1..10).
  absl::StatusOr<std::vector<Card>> Serve(std::string_view slot, std::string_view customer,
                                          int limit, Mode mode);

  absl::StatusOr<Stats> GetStats(int64_t id);

 private:
  struct CachedMembers {
    std::string digest;
    int64_t until_ms = 0;
    std::shared_ptr<const Roaring> members;
  };
  void OnDecided(const Approval& approval);
  absl::Status CheckAudience(const Definition& d);
  absl::StatusOr<std::shared_ptr<const Roaring>> Members(const PlacementRow& row,
                                                         const Definition& d, int64_t now);
  absl::StatusOr<PlacementRow> Change(int64_t id, const std::vector<std::string>& from,
                                      const std::string& to, const char* verb);

  PlacementRepository* const repo_;
  auth::ApprovalService* const approvals_;
  AudienceService* const audiences_;
  CustomerService* const customers_;
  outreach::ContactPolicy* const policy_;
  OutreachRepository* const outreach_repo_;
  const Clock* const clock_;
  const PlacementServiceOptions options_;

  std::mutex cache_mu_;  // a leaf: held only to read or replace an entry
  std::map<int64_t, CachedMembers> cache_;
};

}  // namespace mercator::placement

#endif  // MERCATOR_PLACEMENT_PLACEMENT_SERVICE_H_
