#include "customer/internal/demo_data.h"

#include <utility>

namespace mercator::demo_data {
namespace {

// Approximate shares in hundredths of a percent (王 7.12%).
constexpr Weighted kSurnames[] = {
    {"王", 712}, {"李", 700}, {"张", 674}, {"刘", 538}, {"陈", 453}, {"杨", 308}, {"赵", 229},
    {"黄", 223}, {"周", 198}, {"吴", 205}, {"徐", 145}, {"孙", 138}, {"胡", 116}, {"朱", 128},
    {"高", 100}, {"林", 105}, {"何", 107}, {"郭", 113}, {"马", 129}, {"罗", 95},  {"梁", 84},
    {"宋", 67},  {"郑", 87},  {"谢", 76},  {"韩", 63},  {"唐", 65},  {"冯", 61},  {"于", 48},
    {"董", 51},  {"萧", 20},  {"程", 43},  {"曹", 57},  {"袁", 50},  {"邓", 60},  {"许", 64},
    {"傅", 30},  {"沈", 37},  {"曾", 54},  {"彭", 56},  {"吕", 40},  {"苏", 42},  {"卢", 35},
    {"蒋", 48},  {"蔡", 47},  {"贾", 24},  {"丁", 39},  {"魏", 41},  {"薛", 16},  {"叶", 44},
    {"阎", 8},   {"余", 46},  {"潘", 49},  {"杜", 45},  {"戴", 8},   {"夏", 23},  {"钟", 32},
    {"汪", 29},  {"田", 52},  {"任", 38},  {"姜", 34},  {"范", 28},  {"方", 20},  {"石", 26},
    {"姚", 36},  {"谭", 31},  {"廖", 25},  {"邹", 19},  {"熊", 18},  {"金", 27},  {"陆", 30},
    {"郝", 10},  {"孔", 8},   {"白", 20},  {"崔", 33},  {"康", 9},   {"毛", 10},  {"邱", 17},
    {"秦", 18},  {"江", 17},  {"史", 13},  {"顾", 11},  {"侯", 14},  {"邵", 10},  {"孟", 19},
    {"龙", 13},  {"万", 9},   {"段", 15},  {"雷", 14},  {"钱", 9},   {"汤", 8},   {"尹", 16},
    {"黎", 12},  {"易", 8},   {"常", 8},   {"武", 9},   {"乔", 7},   {"贺", 11},  {"赖", 8},
    {"龚", 10},  {"文", 8},   {"肖", 53},  {"闫", 15},  {"陶", 12},  {"韦", 22},  {"付", 21},
    {"严", 9},   {"覃", 9},   {"莫", 8},   {"向", 8},   {"欧阳", 5}, {"上官", 1}, {"司马", 1},
    {"诸葛", 1},
};

constexpr Weighted kMaleGivenChars[] = {
    {"伟", 30}, {"强", 20}, {"磊", 20}, {"军", 18}, {"勇", 16}, {"杰", 20}, {"涛", 16}, {"斌", 12},
    {"浩", 18}, {"鹏", 14}, {"超", 14}, {"明", 16}, {"刚", 12}, {"平", 10}, {"辉", 14}, {"鑫", 10},
    {"宇", 18}, {"俊", 14}, {"峰", 12}, {"建", 14}, {"国", 14}, {"华", 14}, {"志", 14}, {"博", 12},
    {"轩", 12}, {"豪", 10}, {"睿", 10}, {"泽", 12}, {"凯", 10}, {"东", 12}, {"海", 12}, {"亮", 10},
    {"成", 12}, {"飞", 10}, {"龙", 12}, {"阳", 12}, {"天", 10}, {"德", 8},  {"波", 10}, {"健", 10},
    {"荣", 6},  {"庆", 6},  {"振", 6},  {"铭", 8},  {"航", 8},  {"皓", 8},  {"子", 10}, {"毅", 8},
    {"武", 6},  {"永", 8},
};

constexpr Weighted kFemaleGivenChars[] = {
    {"芳", 20}, {"娜", 18}, {"敏", 18}, {"静", 20}, {"丽", 18}, {"艳", 14}, {"娟", 12}, {"霞", 12},
    {"秀", 12}, {"英", 12}, {"玲", 14}, {"婷", 16}, {"雪", 14}, {"慧", 14}, {"颖", 12}, {"琳", 12},
    {"欣", 14}, {"怡", 14}, {"佳", 12}, {"梦", 10}, {"萱", 10}, {"涵", 12}, {"雨", 12}, {"诗", 10},
    {"思", 12}, {"悦", 10}, {"琪", 10}, {"婉", 8},  {"晓", 12}, {"燕", 14}, {"红", 12}, {"丹", 10},
    {"璐", 8},  {"倩", 10}, {"萍", 10}, {"洁", 10}, {"薇", 8},  {"桂", 6},  {"兰", 10}, {"凤", 8},
    {"梅", 10}, {"莉", 8},  {"彤", 8},  {"妍", 8},  {"瑶", 8},  {"馨", 8},  {"楠", 8},  {"菲", 6},
    {"蕾", 6},  {"春", 8},
};

constexpr Weighted kNeutralGivenChars[] = {
    {"文", 12}, {"晨", 10}, {"一", 10}, {"安", 8}, {"宁", 8}, {"嘉", 10}, {"心", 6}, {"可", 6},
    {"小", 8},  {"清", 6},  {"家", 6},  {"新", 6}, {"金", 6}, {"玉", 6},  {"林", 6}, {"青", 6},
    {"若", 4},  {"云", 6},  {"雅", 6},  {"立", 6}, {"和", 4}, {"瑞", 6},  {"君", 6},
};

constexpr Weighted kGuangdong[] = {{"广州", 1868}, {"深圳", 1756}, {"东莞", 1047},
                                   {"佛山", 950},  {"惠州", 604},  {"汕头", 550}};
constexpr Weighted kShandong[] = {
    {"济南", 920}, {"青岛", 1007}, {"烟台", 710}, {"潍坊", 939}, {"临沂", 1102}};
constexpr Weighted kHenan[] = {{"郑州", 1260}, {"洛阳", 706}, {"南阳", 971}, {"新乡", 625}};
constexpr Weighted kJiangsu[] = {{"南京", 931}, {"苏州", 1275}, {"无锡", 746},
                                 {"常州", 528}, {"南通", 773},  {"徐州", 908}};
constexpr Weighted kSichuan[] = {{"成都", 2094}, {"绵阳", 487}, {"南充", 561}, {"宜宾", 459}};
constexpr Weighted kHebei[] = {{"石家庄", 1124}, {"唐山", 772}, {"保定", 924}, {"邯郸", 941}};
constexpr Weighted kHunan[] = {{"长沙", 1005}, {"株洲", 390}, {"衡阳", 665}, {"岳阳", 505}};
constexpr Weighted kZhejiang[] = {{"杭州", 1194}, {"宁波", 940}, {"温州", 957},
                                  {"绍兴", 527},  {"金华", 705}, {"嘉兴", 540}};
constexpr Weighted kAnhui[] = {{"合肥", 937}, {"芜湖", 364}, {"阜阳", 820}, {"安庆", 417}};
constexpr Weighted kHubei[] = {{"武汉", 1233}, {"宜昌", 401}, {"襄阳", 526}};
constexpr Weighted kGuangxi[] = {{"南宁", 874}, {"柳州", 416}, {"桂林", 493}};
constexpr Weighted kYunnan[] = {{"昆明", 846}, {"曲靖", 577}, {"大理", 334}};
constexpr Weighted kJiangxi[] = {{"南昌", 626}, {"赣州", 898}, {"九江", 460}};
constexpr Weighted kLiaoning[] = {{"沈阳", 907}, {"大连", 745}, {"鞍山", 333}};
constexpr Weighted kFujian[] = {{"福州", 829}, {"厦门", 516}, {"泉州", 878}};
constexpr Weighted kShaanxi[] = {{"西安", 1295}, {"咸阳", 396}, {"宝鸡", 332}};
constexpr Weighted kHeilongjiang[] = {{"哈尔滨", 1001}, {"大庆", 278}, {"齐齐哈尔", 407}};
constexpr Weighted kShanxi[] = {{"太原", 530}, {"大同", 310}, {"运城", 477}};
constexpr Weighted kGuizhou[] = {{"贵阳", 599}, {"遵义", 660}};
constexpr Weighted kChongqing[] = {{"重庆", 3205}};
constexpr Weighted kJilin[] = {{"长春", 907}, {"吉林", 362}};
constexpr Weighted kGansu[] = {{"兰州", 436}, {"天水", 298}};
constexpr Weighted kNeimenggu[] = {{"呼和浩特", 345}, {"包头", 271}, {"鄂尔多斯", 215}};
constexpr Weighted kShanghai[] = {{"上海", 2487}};
constexpr Weighted kXinjiang[] = {{"乌鲁木齐", 405}, {"喀什", 450}};
constexpr Weighted kBeijing[] = {{"北京", 2189}};
constexpr Weighted kTianjin[] = {{"天津", 1387}};
constexpr Weighted kHainan[] = {{"海口", 287}, {"三亚", 103}};
constexpr Weighted kNingxia[] = {{"银川", 286}, {"石嘴山", 75}};
constexpr Weighted kQinghai[] = {{"西宁", 247}, {"海东", 136}};
constexpr Weighted kXizang[] = {{"拉萨", 87}, {"日喀则", 80}};

// 7th national census (2020), residents in thousands; the sum is 1,409,778 (the national
// total of 1,411,778 also counts 2,000 serving military personnel).
constexpr Province kProvinces[] = {
    {"广东", 126013, kGuangdong},  {"山东", 101527, kShandong},      {"河南", 99366, kHenan},
    {"江苏", 84748, kJiangsu},     {"四川", 83675, kSichuan},        {"河北", 74610, kHebei},
    {"湖南", 66445, kHunan},       {"浙江", 64568, kZhejiang},       {"安徽", 61027, kAnhui},
    {"湖北", 57753, kHubei},       {"广西", 50127, kGuangxi},        {"云南", 47209, kYunnan},
    {"江西", 45189, kJiangxi},     {"辽宁", 42591, kLiaoning},       {"福建", 41540, kFujian},
    {"陕西", 39529, kShaanxi},     {"贵州", 38562, kGuizhou},        {"山西", 34916, kShanxi},
    {"重庆", 32054, kChongqing},   {"黑龙江", 31850, kHeilongjiang}, {"新疆", 25852, kXinjiang},
    {"甘肃", 25019, kGansu},       {"上海", 24871, kShanghai},       {"吉林", 24073, kJilin},
    {"内蒙古", 24049, kNeimenggu}, {"北京", 21893, kBeijing},        {"天津", 13866, kTianjin},
    {"海南", 10081, kHainan},      {"宁夏", 7203, kNingxia},         {"青海", 5924, kQinghai},
    {"西藏", 3648, kXizang},
};

constexpr MobilePrefix kMobilePrefixes[] = {
    {"134", Carrier::kChinaMobile},  {"135", Carrier::kChinaMobile},
    {"136", Carrier::kChinaMobile},  {"137", Carrier::kChinaMobile},
    {"138", Carrier::kChinaMobile},  {"139", Carrier::kChinaMobile},
    {"147", Carrier::kChinaMobile},  {"150", Carrier::kChinaMobile},
    {"151", Carrier::kChinaMobile},  {"152", Carrier::kChinaMobile},
    {"157", Carrier::kChinaMobile},  {"158", Carrier::kChinaMobile},
    {"159", Carrier::kChinaMobile},  {"172", Carrier::kChinaMobile},
    {"178", Carrier::kChinaMobile},  {"182", Carrier::kChinaMobile},
    {"183", Carrier::kChinaMobile},  {"184", Carrier::kChinaMobile},
    {"187", Carrier::kChinaMobile},  {"188", Carrier::kChinaMobile},
    {"195", Carrier::kChinaMobile},  {"197", Carrier::kChinaMobile},
    {"198", Carrier::kChinaMobile},  {"130", Carrier::kChinaUnicom},
    {"131", Carrier::kChinaUnicom},  {"132", Carrier::kChinaUnicom},
    {"145", Carrier::kChinaUnicom},  {"155", Carrier::kChinaUnicom},
    {"156", Carrier::kChinaUnicom},  {"166", Carrier::kChinaUnicom},
    {"167", Carrier::kChinaUnicom},  {"171", Carrier::kChinaUnicom},
    {"175", Carrier::kChinaUnicom},  {"176", Carrier::kChinaUnicom},
    {"185", Carrier::kChinaUnicom},  {"186", Carrier::kChinaUnicom},
    {"196", Carrier::kChinaUnicom},  {"133", Carrier::kChinaTelecom},
    {"149", Carrier::kChinaTelecom}, {"153", Carrier::kChinaTelecom},
    {"173", Carrier::kChinaTelecom}, {"177", Carrier::kChinaTelecom},
    {"180", Carrier::kChinaTelecom}, {"181", Carrier::kChinaTelecom},
    {"189", Carrier::kChinaTelecom}, {"190", Carrier::kChinaTelecom},
    {"191", Carrier::kChinaTelecom}, {"193", Carrier::kChinaTelecom},
    {"199", Carrier::kChinaTelecom},
};

}  // namespace

std::span<const Weighted> Surnames() { return kSurnames; }
std::span<const Weighted> MaleGivenChars() { return kMaleGivenChars; }
std::span<const Weighted> FemaleGivenChars() { return kFemaleGivenChars; }
std::span<const Weighted> NeutralGivenChars() { return kNeutralGivenChars; }
std::span<const Province> Provinces() { return kProvinces; }
std::span<const MobilePrefix> MobilePrefixes() { return kMobilePrefixes; }

uint32_t CarrierSharePercent(Carrier carrier) {
  // Subscriber shares around 2020 (MIIT and carrier reports), rounded.
  switch (carrier) {
    case Carrier::kChinaMobile:
      return 58;
    case Carrier::kChinaUnicom:
      return 20;
    case Carrier::kChinaTelecom:
      return 22;
  }
  return 0;
}

std::string_view CityDivisionCode(std::string_view city) {
  // One central district (or the city itself where it has none) per city of kProvinces.
  static constexpr std::pair<std::string_view, std::string_view> kCodes[] = {
      {"广州", "440106"},   {"深圳", "440304"},     {"东莞", "441900"},     {"佛山", "440604"},
      {"惠州", "441302"},   {"汕头", "440507"},     {"济南", "370102"},     {"青岛", "370202"},
      {"烟台", "370602"},   {"潍坊", "370702"},     {"临沂", "371302"},     {"郑州", "410105"},
      {"洛阳", "410302"},   {"南阳", "411302"},     {"新乡", "410702"},     {"南京", "320102"},
      {"苏州", "320505"},   {"无锡", "320213"},     {"常州", "320402"},     {"南通", "320602"},
      {"徐州", "320302"},   {"成都", "510104"},     {"绵阳", "510703"},     {"南充", "511302"},
      {"宜宾", "511502"},   {"石家庄", "130102"},   {"唐山", "130202"},     {"保定", "130602"},
      {"邯郸", "130402"},   {"长沙", "430102"},     {"株洲", "430202"},     {"衡阳", "430405"},
      {"岳阳", "430602"},   {"杭州", "330106"},     {"宁波", "330203"},     {"温州", "330302"},
      {"绍兴", "330602"},   {"金华", "330702"},     {"嘉兴", "330402"},     {"合肥", "340104"},
      {"芜湖", "340202"},   {"阜阳", "341202"},     {"安庆", "340802"},     {"武汉", "420106"},
      {"宜昌", "420502"},   {"襄阳", "420602"},     {"南宁", "450102"},     {"柳州", "450202"},
      {"桂林", "450302"},   {"昆明", "530102"},     {"曲靖", "530302"},     {"大理", "532901"},
      {"南昌", "360102"},   {"赣州", "360702"},     {"九江", "360402"},     {"沈阳", "210102"},
      {"大连", "210202"},   {"鞍山", "210302"},     {"福州", "350102"},     {"厦门", "350203"},
      {"泉州", "350502"},   {"西安", "610102"},     {"咸阳", "610402"},     {"宝鸡", "610302"},
      {"哈尔滨", "230102"}, {"大庆", "230602"},     {"齐齐哈尔", "230202"}, {"太原", "140105"},
      {"大同", "140213"},   {"运城", "140802"},     {"贵阳", "520102"},     {"遵义", "520302"},
      {"重庆", "500103"},   {"长春", "220102"},     {"吉林", "220202"},     {"兰州", "620102"},
      {"天水", "620502"},   {"呼和浩特", "150102"}, {"包头", "150203"},     {"鄂尔多斯", "150602"},
      {"上海", "310104"},   {"乌鲁木齐", "650102"}, {"喀什", "653101"},     {"北京", "110105"},
      {"天津", "120101"},   {"海口", "460106"},     {"三亚", "460202"},     {"银川", "640104"},
      {"石嘴山", "640202"}, {"西宁", "630102"},     {"海东", "630202"},     {"拉萨", "540102"},
      {"日喀则", "540202"},
  };
  for (const auto& [name, code] : kCodes) {
    if (name == city) return code;
  }
  return "";
}

std::string_view CarrierName(Carrier carrier) {
  switch (carrier) {
    case Carrier::kChinaMobile:
      return "中国移动";
    case Carrier::kChinaUnicom:
      return "中国联通";
    case Carrier::kChinaTelecom:
      return "中国电信";
  }
  return "";
}

}  // namespace mercator::demo_data
