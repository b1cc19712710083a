// common/json: string escaping and shortest round-trip floats.
#include "common/json.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace edlae {
namespace {

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonQuote("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(JsonQuote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonQuote(std::string("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \x7f"), "\"caf\xc3\xa9 \x7f\"");  // as is
  std::string out = "x";
  AppendJsonString("y", &out);
  EXPECT_EQ(out, "x\"y\"");
}

TEST(JsonFloatTest, ShortestTextThatReadsBackExactlyAndNullWhenNotFinite) {
  EXPECT_EQ(JsonFloat(0.1f), "0.1");
  EXPECT_EQ(JsonFloat(2009.0f), "2009");
  EXPECT_EQ(JsonFloat(-0.5f), "-0.5");
  EXPECT_EQ(JsonFloat(std::numeric_limits<float>::quiet_NaN()), "null");
  EXPECT_EQ(JsonFloat(std::numeric_limits<float>::infinity()), "null");
  EXPECT_EQ(JsonFloat(-std::numeric_limits<float>::infinity()), "null");
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 100000; ++i) {
    uint32_t b = bits(rng);
    float value;
    std::memcpy(&value, &b, sizeof(value));
    if (!std::isfinite(value)) continue;
    const std::string text = JsonFloat(value);
    EXPECT_EQ(std::strtof(text.c_str(), nullptr), value) << text;
    EXPECT_LE(text.size(), 15u) << text;
  }
}

}  // namespace
}  // namespace edlae
