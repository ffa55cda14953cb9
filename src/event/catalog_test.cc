// The event catalog's schema checks and ParseEventJson: each bad member is named with its
// reason; good events come out typed (money in fen, dates in days).
#include "event/catalog.h"

#include <boost/json.hpp>

#include <string>

#include "customer/tag.h"
#include "event/event_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mercator::event {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'795'000'000'000;  // 2026-11-18

absl::StatusOr<Event> Parse(std::string_view text) {
  return ParseEventJson(boost::json::parse(text), Catalog::Builtin(), kNow, 300'000);
}

std::string Error(std::string_view text) {
  absl::StatusOr<Event> e = Parse(text);
  EXPECT_FALSE(e.ok()) << text;
  return e.ok() ? "" : std::string(e.status().message());
}

TEST(EventCatalog, ParsesATypedPurchase) {
  absl::StatusOr<Event> e = Parse(
      R"({"id":"e1","type":"purchase","customer":"C1","occurred_at":"2026-11-17T10:00:00+08:00",
          "properties":{"product":"WM01","amount":"5000.5","category":"wealth"}})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->id, "e1");
  EXPECT_EQ(e->occurred_ms, 1'794'880'800'000);
  EXPECT_EQ(std::get<int64_t>(e->properties.at("amount")), 500050);
  EXPECT_EQ(std::get<std::string>(e->properties.at("category")), "wealth");
}

TEST(EventCatalog, MoneyAsNumberAndDates) {
  absl::StatusOr<Event> e = Parse(
      R"({"id":"e2","type":"deposit_open","customer":"C1","occurred_at":1794000000000,
          "properties":{"product":"TD3Y","amount":100000.25,"maturity_date":"2029-11-17"}})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(std::get<int64_t>(e->properties.at("amount")), 10000025);
  EXPECT_EQ(std::get<int64_t>(e->properties.at("maturity_date")), DaysFromCivil(2029, 11, 17));
}

TEST(EventCatalog, NamesTheBadMember) {
  EXPECT_THAT(Error(R"({"type":"login","customer":"C1","occurred_at":1794000000000})"),
              HasSubstr("id: is required"));
  EXPECT_THAT(Error(R"({"id":"x","type":"teleport","customer":"C1","occurred_at":1794000000000})"),
              HasSubstr("type: \"teleport\" is not an event type"));
  EXPECT_THAT(Error(R"({"id":"x","type":"lifecycle_changed","customer":"C1",
                        "occurred_at":1794000000000,"properties":{"from":"","to":"new"}})"),
              HasSubstr("emitted by Mercator only"));
  EXPECT_THAT(Error(R"({"id":"x","type":"purchase","customer":"C1","occurred_at":1794000000000,
                        "properties":{"product":"P"}})"),
              HasSubstr("properties.amount: is required"));
  EXPECT_THAT(Error(R"({"id":"x","type":"purchase","customer":"C1","occurred_at":1794000000000,
                        "properties":{"product":"P","amount":"12.345"}})"),
              HasSubstr("properties.amount: must be an amount in yuan with at most 2 decimals"));
  EXPECT_THAT(Error(R"({"id":"x","type":"purchase","customer":"C1","occurred_at":1794000000000,
                        "properties":{"product":"P","amount":-5}})"),
              HasSubstr("properties.amount: must be more than 0"));
  EXPECT_THAT(Error(R"({"id":"x","type":"feedback","customer":"C1","occurred_at":1794000000000,
                        "properties":{"score":11}})"),
              HasSubstr("properties.score: must be between 0 and 10"));
  EXPECT_THAT(Error(R"({"id":"x","type":"login","customer":"C1","occurred_at":1794000000000,
                        "properties":{"colour":"red"}})"),
              HasSubstr("properties.colour: is not a property of login events"));
  EXPECT_THAT(Error(R"({"id":"x","type":"login","customer":"C1","occurred_at":1794000000000,
                        "properties":{"channel":"fax"}})"),
              HasSubstr("properties.channel: \"fax\" is not one of"));
  EXPECT_THAT(Error(R"({"id":"x","type":"deposit_open","customer":"C1","occurred_at":1794000000000,
                        "properties":{"product":"P","amount":1,"maturity_date":"2029-02-30"}})"),
              HasSubstr("properties.maturity_date: must be a date"));
  EXPECT_THAT(Error(R"({"id":"x","type":"login","customer":"C1","occurred_at":"yesterday"})"),
              HasSubstr("occurred_at: not an RFC 3339 time"));
  EXPECT_THAT(Error(R"({"id":"x","type":"login","customer":"C1","occurred_at":1796000000000})"),
              HasSubstr("occurred_at: is more than 300 s in the future"));
  EXPECT_THAT(Error(R"({"id":"x","type":"login","customer":"C1","occurred_at":1794000000,
                        "properties":{}})"),
              HasSubstr("occurred_at: is before 2000-01-01"));
  EXPECT_THAT(Error(R"({"id":"x","type":"login","customer":"C1","occurred_at":1794000000000,
                        "when":"now"})"),
              HasSubstr("when: is not a member of an event"));
  EXPECT_THAT(Error(R"([1,2])"), HasSubstr("event: must be a JSON object"));
}

TEST(EventCatalog, FormatsPropertiesBack) {
  const EventType* t = Catalog::Builtin().Find("deposit_open");
  ASSERT_NE(t, nullptr);
  const FieldDef* amount = nullptr;
  const FieldDef* maturity = nullptr;
  for (const FieldDef& f : t->fields) {
    if (f.name == "amount") amount = &f;
    if (f.name == "maturity_date") maturity = &f;
  }
  ASSERT_TRUE(amount && maturity);
  EXPECT_EQ(FormatProperty(*amount, int64_t{10000025}), "100000.25");
  EXPECT_EQ(FormatProperty(*maturity, DaysFromCivil(2029, 11, 17)), "2029-11-17");
}

}  // namespace
}  // namespace mercator::event
