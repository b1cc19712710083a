// Refcount stress of ServableModel: reader threads take handles and read the
// model while a swapper replaces it; every handle stays consistent and every
// replaced model is released after its last reader (run under TSan in CI).
#include "server/servable_model.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "gtest/gtest.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae::server {
namespace {

TEST(ServableModelStressTest, ReadersAndSwapperKeepHandlesConsistent) {
  testing::ScratchDir dir;
  constexpr int kVersions = 4;
  constexpr size_t kItems = 40;
  // Open (mmap) each file afresh on every swap, so the test also exercises
  // unmapping when the last handle goes.
  for (int v = 1; v <= kVersions; ++v) {
    ASSERT_TRUE(testing::WriteVersionedModel(dir.File(absl::StrCat(v)), kItems,
                                             static_cast<uint64_t>(v))
                    .ok());
  }
  // The expected B[3][5] of each version (see WriteVersionedModel).
  auto expected = [](uint64_t v) {
    return static_cast<float>(static_cast<int>((3 * 7 + 5 * 13 + v) % 17) - 8) /
           8.0f;
  };

  ServableModel servable;
  {
    auto first = Model::Open(dir.File("1"));
    ASSERT_TRUE(first.ok());
    servable.Set(*first, 1);
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0}, inconsistent{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const ServableHandle handle = servable.Get();
        if (!handle) {
          ++inconsistent;
          continue;
        }
        // The model must match the version it was published with, for as
        // long as the handle is held, whatever the swapper does meanwhile.
        const float before = handle.model->dense_row(3)[5];
        std::this_thread::yield();
        const float after = handle.model->dense_row(3)[5];
        if (before != expected(handle.version) || after != before ||
            handle.model->GetMetadata("test_version") !=
                absl::StrCat(handle.version)) {
          ++inconsistent;
        }
        ++reads;
      }
    });
  }
  std::vector<std::weak_ptr<const Model>> replaced;
  int swaps = 0;
  // Bounded in time; stops early once both sides did plenty of work.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < end &&
         (swaps < 500 || reads.load() < 50000)) {
    const uint64_t v = static_cast<uint64_t>(swaps % kVersions) + 1;
    auto model = Model::Open(dir.File(absl::StrCat(v)));
    ASSERT_TRUE(model.ok());
    replaced.push_back(servable.Get().model);
    servable.Set(*model, v);
    ++swaps;
    std::this_thread::yield();  // let readers hold handles across swaps
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  std::printf("[ figures  ] refcount stress: %d swaps, %lld reads\n", swaps,
              static_cast<long long>(reads.load()));
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(swaps, 10);
  EXPECT_GT(reads.load(), 1000);
  // Every replaced model was released once no reader held it any more.
  for (const std::weak_ptr<const Model>& old : replaced) {
    EXPECT_TRUE(old.expired());
  }
  servable.Set(nullptr);
  EXPECT_FALSE(servable.Get());
}

}  // namespace
}  // namespace edlae::server
