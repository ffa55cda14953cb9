// Reference tables for the demo bank generator (customer/demo_bank.h): Chinese surnames,
// given-name characters, mainland provinces and cities, mobile number prefixes.
//
// The figures are public statistics rounded for a demo, not authoritative data: surname
// shares approximate the Ministry of Public Security's 2020 ranking, provincial populations
// are the 7th national census (2020) in thousands, city weights are approximate resident
// populations (census 2020, in ten thousands). Only a few major cities per province are
// listed; the generator places each province's customers among those cities in proportion
// to their weights.
//
// All tables are constant and safe to read from any thread.
#ifndef MERCATOR_CUSTOMER_INTERNAL_DEMO_DATA_H_
#define MERCATOR_CUSTOMER_INTERNAL_DEMO_DATA_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace mercator::demo_data {

// A value with a relative weight (only ratios within one table matter).
struct Weighted {
  std::string_view text;
  uint32_t weight;
};

struct Province {
  std::string_view name;  // short form without 省/市/自治区: "浙江", "广西", "上海"
  uint32_t population_k;  // residents in thousands, 7th census (2020)
  std::span<const Weighted> cities;  // short city names ("杭州") with weights
};

enum class Carrier { kChinaMobile, kChinaUnicom, kChinaTelecom };

struct MobilePrefix {
  std::string_view prefix;  // the first three digits of an 11-digit number
  Carrier carrier;
};

// Surnames with their approximate share of the population in hundredths of a percent.
std::span<const Weighted> Surnames();

// Given-name characters, each a single UTF-8 encoded Chinese character. Weights favour the
// characters that are common in names.
std::span<const Weighted> MaleGivenChars();
std::span<const Weighted> FemaleGivenChars();
std::span<const Weighted> NeutralGivenChars();

// The 31 mainland provinces, autonomous regions and municipalities.
std::span<const Province> Provinces();

// Three-digit prefixes in use for mobile numbers, by carrier.
std::span<const MobilePrefix> MobilePrefixes();

// Approximate share of mobile subscribers per carrier, in percent.
uint32_t CarrierSharePercent(Carrier carrier);

std::string_view CarrierName(Carrier carrier);  // "中国移动", ...

// The six-digit administrative division code (GB/T 2260) of a district in the city's centre,
// the first six digits of the ID numbers of people registered there: "杭州" -> "330106"
// (西湖区). Every city of Provinces() has one; "" for other names.
std::string_view CityDivisionCode(std::string_view city);

}  // namespace mercator::demo_data

#endif  // MERCATOR_CUSTOMER_INTERNAL_DEMO_DATA_H_
