// A marketing activity's terms: a display template plus components (eligibility, chances,
// prize pools per customer group, budget), as the operator writes them in JSON.
//
// ParseActivityTerms validates everything that can be checked without the rest of the system
// and names the offending member by its path ("pools[1].pool.prizes[0].weight: must be > 0"),
// which the API turns into problem+json. Checks that need other modules (an audience id that
// exists, a rule whose tags exist) are the activity service's.
//
// Templates are components: TemplateRegistry maps a template name to a validator of its
// settings and to the engine that runs it (the draw engine for lottery templates, small own
// logic for sign-in and quiz). Adding a template is registering one more entry.
//
// Thread safety: the types are values; the default registry is immutable after start-up.
#ifndef MERCATOR_ACTIVITY_ACTIVITY_H_
#define MERCATOR_ACTIVITY_ACTIVITY_H_

#include <boost/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mercator::activity {

// Channels an activity can be offered on.
inline constexpr std::string_view kChannels[] = {"app", "h5", "wechat_oa", "wecom", "branch"};
bool IsChannel(std::string_view channel);

// Prize kinds, as the draw engine knows them.
inline constexpr std::string_view kPrizeKinds[] = {"points",   "coupon", "benefit",
                                                   "physical", "cash",   "thanks"};

// Limits that keep one activity's terms small enough to hold in memory and show on a page.
inline constexpr size_t kMaxPools = 16;
inline constexpr size_t kMaxPrizesPerPool = 64;
inline constexpr size_t kMaxListEntries = 100000;  // white and black lists
inline constexpr size_t kMaxTasks = 32;

// A bank system asked whether a customer may take part, as the last eligibility check
// (activity/verification.h: the HTTP call, its cache and the declared failure policy).
struct VerificationHook {
  std::string url;  // https://... (http:// only to 127.0.0.1, localhost or [::1])
  int32_t timeout_ms = 500;
  int32_t cache_seconds = 300;
  enum class OnFailure { kFailOpen, kFailClosed } on_failure = OnFailure::kFailClosed;
};

struct Eligibility {
  std::optional<int64_t> audience_id;   // a saved audience (its live rule)
  std::optional<std::string> rule;      // or a rule in the DSL (canonical form once checked)
  std::vector<std::string> white_list;  // external ids, sorted, unique
  std::vector<std::string> black_list;  // external ids, sorted, unique
  std::vector<std::string> channels;    // empty: every channel
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // exclusive
  std::optional<VerificationHook> verification;
};

struct Task {
  std::string id;
  std::string name;
  std::string event;  // the customer event that completes it ("card.bound")
  int32_t extra_chances = 1;
  // How often it can be completed: once per customer per local day, or once per customer
  // over the activity. Either way the chances are for the day the completion is recorded.
  enum class Repeat { kDaily, kOnce } repeat = Repeat::kDaily;
};

struct Chances {
  int32_t free_per_day = 1;
  int64_t points_cost = 0;  // points per draw beyond the free ones; 0: no paid draws
  int32_t max_per_day = 0;  // 0: no daily cap beyond free + task chances
  int32_t max_total = 0;    // 0: no cap over the whole activity
  std::vector<Task> tasks;
};

struct Prize {
  std::string id;
  std::string name;
  std::string kind;  // one of kPrizeKinds
  int64_t weight = 0;
  int64_t total_stock = 0;       // -1: unlimited (thanks)
  int64_t daily_stock = 0;       // 0: no daily limit
  int32_t per_customer_cap = 0;  // 0: no cap
  int64_t cost_fen = 0;
  std::string reward_ref;  // points amount, coupon template, benefit code, ...
};

struct PrizePool {
  std::string id;
  std::string name;
  std::vector<Prize> prizes;
  std::string fallback_prize_id;  // given when the pick is out of stock or over budget
  int32_t guarantee_after = 0;    // 保底: a win after this many losses in a row; 0: none
};

// Which customers a pool serves: the first group (in order) that matches a customer wins.
struct PoolGroup {
  enum class Kind { kDefault, kAudience, kRule } kind = Kind::kDefault;
  int64_t audience_id = 0;
  std::string rule;  // DSL
  PrizePool pool;
};

struct Display {
  std::string template_name;  // a name registered in the TemplateRegistry
  std::string title;
  std::string theme;
  boost::json::object settings;  // template-specific, checked by the template's validator
};

struct ActivityTerms {
  std::string name;
  std::string description;
  Eligibility eligibility;
  Chances chances;
  std::vector<PoolGroup> pools;
  int64_t budget_fen = 0;           // 0: no budget cap
  int32_t tz_offset_minutes = 480;  // days (free chances, daily stock) in UTC+8 by default
  Display display;
};

// Which engine runs a template.
enum class TemplateEngine { kDraw, kSignIn, kQuiz };
std::string_view TemplateEngineName(TemplateEngine engine);

struct TemplateSpec {
  TemplateEngine engine = TemplateEngine::kDraw;
  // Checks display.settings (and anything else the template constrains in the terms).
  // Returns InvalidArgument "<path>: <reason>" with paths from the terms' root.
  std::function<absl::Status(const ActivityTerms& terms)> validate;
};

class TemplateRegistry {
 public:
  // wheel, grid9, golden_egg, blind_box, scratch_card (draw), sign_in, quiz.
  static const TemplateRegistry& Default();

  // AlreadyExists if the name is taken.
  absl::Status Register(std::string name, TemplateSpec spec);
  const TemplateSpec* Find(std::string_view name) const;
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, TemplateSpec, std::less<>> templates_;
};

// Parses and validates terms. InvalidArgument "<path>: <reason>" on the first problem.
absl::StatusOr<ActivityTerms> ParseActivityTerms(
    const boost::json::value& json,
    const TemplateRegistry& templates = TemplateRegistry::Default());

// The canonical JSON of the terms (what is stored, digested and shown). Parse(ToJson(t)) == t.
boost::json::object ActivityTermsToJson(const ActivityTerms& terms);

// Lower-case hex SHA-256 of the canonical JSON: names the exact version for maker-checker.
std::string TermsDigest(const ActivityTerms& terms);

// RFC 3339 ("2026-12-01T00:00:00+08:00") to Unix milliseconds and back (UTC, "Z").
absl::StatusOr<int64_t> ParseTime(std::string_view text);
std::string FormatTime(int64_t ms);

}  // namespace mercator::activity

#endif  // MERCATOR_ACTIVITY_ACTIVITY_H_
