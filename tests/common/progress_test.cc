// ProgressMeter: lines only when asked for, with percent and ETA; concurrent
// adds.
#include "common/progress.h"

#include <chrono>
#include <sstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace edlae {
namespace {

using std::chrono::milliseconds;

TEST(ProgressModeTest, ParsesTheThreeNames) {
  EXPECT_EQ(ParseProgressMode("auto"), ProgressMode::kAuto);
  EXPECT_EQ(ParseProgressMode("always"), ProgressMode::kAlways);
  EXPECT_EQ(ParseProgressMode("never"), ProgressMode::kNever);
  EXPECT_FALSE(ParseProgressMode("yes").has_value());
  EXPECT_FALSE(ParseProgressMode("").has_value());
}

// Adds `total` units in steps of one from `threads` threads, sleeping a
// little so that the interval elapses.
void AddConcurrently(ProgressMeter& meter, size_t total, int threads) {
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t k = 0; k < total / threads; ++k) {
        meter.Add(1);
        if (k % 10 == 0) std::this_thread::sleep_for(milliseconds(1));
      }
    });
  }
  for (std::thread& th : pool) th.join();
}

TEST(ProgressMeterTest, AlwaysPrintsLinesWithPercentAndEta) {
  std::ostringstream log;
  {
    ProgressMeter meter(&log, "phase", 2000, ProgressMode::kAlways,
                        milliseconds(1));
    EXPECT_TRUE(meter.active());
    AddConcurrently(meter, 2000, 2);
  }
  const std::string out = log.str();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.rfind("[phase] ", 0), 0u) << out;
  EXPECT_NE(out.find("% ("), std::string::npos) << out;
  EXPECT_NE(out.find(" of 2000), "), std::string::npos) << out;
  EXPECT_NE(out.find("ETA "), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "not a terminal: full lines";
  // The last line printed reports no more than was added.
  EXPECT_EQ(out.find("(2001 of"), std::string::npos);
}

TEST(ProgressMeterTest, NeverAndAutoOffATerminalPrintNothing) {
  for (ProgressMode mode : {ProgressMode::kNever, ProgressMode::kAuto}) {
    std::ostringstream log;
    {
      ProgressMeter meter(&log, "phase", 1000, mode, milliseconds(1));
      EXPECT_FALSE(meter.active());
      AddConcurrently(meter, 1000, 2);
      meter.Finish();
    }
    EXPECT_EQ(log.str(), "");
  }
  ProgressMeter no_log(nullptr, "phase", 10, ProgressMode::kAlways);
  EXPECT_FALSE(no_log.active());
  no_log.Add(10);  // a counter only: no stream to touch
}

TEST(ProgressMeterTest, NothingBeforeTheIntervalElapses) {
  std::ostringstream log;
  {
    ProgressMeter meter(&log, "phase", 100, ProgressMode::kAlways,
                        milliseconds(60000));
    for (int k = 0; k < 100; ++k) meter.Add(1);
  }
  EXPECT_EQ(log.str(), "");
}

}  // namespace
}  // namespace edlae
