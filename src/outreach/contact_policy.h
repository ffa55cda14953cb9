// The one contact policy every outbound touch passes (../shared/ARCHITECTURE.md, "Contact
// policy"). For purpose "marketing": the bank's do-not-disturb list suppresses with
// "do_not_disturb" whatever the consent; an opt-out of the channel (or of all channels) suppresses
// with "opted_out"; no granted consent for customer x channel x marketing with "no_consent";
// the customer's local time (their own time zone, else the bank's) inside quiet hours with
// "quiet_hours". For purpose "service": only a withdrawn
// service consent suppresses ("no_consent"). Caps per customer per local day and calendar
// week across channels (marketing only) are counted by OutreachRepository::RecordMessage in
// the same transaction that records the message, so concurrent sends cannot both take the
// last slot.
//
// Quiet hours suppress (reason quiet_hours); deferring a message to the next allowed time is
// the campaign scheduler's job, not the policy's. Check (one customer, no zone given) uses the
// bank's zone; OutreachService reads each customer's zone and calls CheckBatch.
//
// Thread safety: safe for concurrent use.
#ifndef MERCATOR_OUTREACH_CONTACT_POLICY_H_
#define MERCATOR_OUTREACH_CONTACT_POLICY_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "store/outreach_repository.h"

namespace mercator::outreach {

struct ContactPolicyOptions {
  // The bank's time zone as a fixed offset: Asia/Shanghai is UTC+8 all year (no DST). Caps
  // count local days and weeks here; customers without a time zone of their own are here.
  int32_t tz_offset_minutes = 8 * 60;
  // The customer tag holding a customer's own IANA time zone ("America/New_York",
  // "Asia/Kolkata"): quiet hours apply in that zone, daylight saving time included. A customer
  // without the tag, or with a zone the tz database does not know, is in the bank's zone.
  std::string time_zone_tag = "timezone";
};

// Local calendar helpers at a fixed UTC offset.
int64_t LocalDay(int64_t utc_ms, int32_t tz_offset_minutes);  // days since 1970-01-01
int64_t LocalWeek(int64_t local_day);  // Monday-based weeks since Monday 1969-12-29
int32_t LocalMinuteOfDay(int64_t utc_ms, int32_t tz_offset_minutes);
// Whether `minute` is in [start, end), wrapping past midnight when start > end.
bool InQuietHours(int32_t minute, int32_t start, int32_t end);

// The policy's decision for one customer from the stored facts: the suppression reason, or ""
// to let the message through. in_quiet_hours: the local time is inside the quiet hours.
std::string ContactDecision(const ContactFacts& facts, std::string_view purpose,
                            bool in_quiet_hours);

class ContactPolicy {
 public:
  ContactPolicy(OutreachRepository* repo, const Clock* clock, ContactPolicyOptions options = {})
      : repo_(repo), clock_(clock), options_(options) {}

  // The suppression reason for a message now, or "" if the policy lets it through (caps are
  // checked when the message is recorded).
  absl::StatusOr<std::string> Check(std::string_view customer, std::string_view channel,
                                    std::string_view purpose, int64_t now_ms,
                                    const PolicySettings& settings);
  // Check for many customers of one channel and purpose, from one snapshot: out[i] for
  // customers[i], whose time zone is zones[i] ("" or unknown: the bank's).
  absl::StatusOr<std::vector<std::string>> CheckBatch(std::span<const std::string> customers,
                                                      std::span<const std::string> zones,
                                                      std::string_view channel,
                                                      std::string_view purpose, int64_t now_ms,
                                                      const PolicySettings& settings);

  // Whether it is quiet hours now for a customer in time zone `zone` ("" or unknown: the
  // bank's zone).
  bool QuietFor(std::string_view zone, int64_t now_ms, const PolicySettings& settings);

  absl::StatusOr<PolicySettings> Settings() { return repo_->GetPolicy(); }
  // InvalidArgument naming the field for caps < 0 or minutes outside 0..1439.
  absl::Status PutSettings(const PolicySettings& settings);

  int32_t tz_offset_minutes() const { return options_.tz_offset_minutes; }
  const std::string& time_zone_tag() const { return options_.time_zone_tag; }
  const Clock& clock() const { return *clock_; }

 private:
  // The local minute of day in `zone` (IANA name; "" or unknown: the bank's fixed offset).
  int32_t LocalMinuteIn(std::string_view zone, int64_t now_ms);

  OutreachRepository* const repo_;
  const Clock* const clock_;
  const ContactPolicyOptions options_;
  absl::Mutex zones_mu_;
  // Loaded zones by name; nullopt: not in the tz database.
  absl::flat_hash_map<std::string, std::optional<absl::TimeZone>> zones_ ABSL_GUARDED_BY(zones_mu_);
};

}  // namespace mercator::outreach

#endif  // MERCATOR_OUTREACH_CONTACT_POLICY_H_
