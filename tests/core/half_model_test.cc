// Reduced-precision (f16, bf16, int8) model files: layout, rounding, validation, conversion, and scoring equal to the widened float32 model.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/kernels_testing.h"
#include "core/kernels_x86.h"
#include "core/model.h"
#include "core/model_convert.h"
#include "core/model_format.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "core/weight_rows.h"
#include "evaluation/batch_scorer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::Contains;

constexpr DType kHalves[] = {DType::kFloat16, DType::kBFloat16};

// The writer's rounding, spelled out independently of core/weight_rows.cc.
uint16_t Narrow(DType dtype, float v) {
  return dtype == DType::kFloat16 ? FloatToF16(v) : FloatToBf16(v);
}
float Widen(DType dtype, uint16_t h) {
  return dtype == DType::kFloat16 ? F16ToFloat(h) : Bf16ToFloat(h);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Random weights of a trained model's scale (|w| < 1 mostly, a few larger),
// ids "i0".., popularity with ties.
struct Weights {
  size_t n = 0;
  size_t rank = 0;  // 0: dense
  std::vector<float> b, u, v;
  std::vector<std::string> ids;
  std::vector<float> popularity;
};

Weights RandomWeights(size_t n, size_t rank, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  Weights w;
  w.n = n;
  w.rank = rank;
  auto fill = [&](std::vector<float>& m, size_t size) {
    m.resize(size);
    for (float& x : m) x = normal(rng);
  };
  if (rank == 0) {
    fill(w.b, n * n);
  } else {
    fill(w.u, n * rank);
    fill(w.v, n * rank);
  }
  for (size_t i = 0; i < n; ++i) {
    w.ids.push_back(absl::StrCat("i", i));
    w.popularity.push_back(static_cast<float>(rng() % 5));
  }
  return w;
}

absl::Status Write(const Weights& w, DType dtype, const std::string& path) {
  if (w.rank == 0) {
    DenseModelData d;
    d.b = w.b;
    d.item_ids = w.ids;
    d.popularity = w.popularity;
    d.metadata = {{"algorithm", "edlae"}};
    d.dtype = dtype;
    return WriteDenseModel(path, d);
  }
  LowRankModelData d;
  d.rank = w.rank;
  d.u = w.u;
  d.v = w.v;
  d.item_ids = w.ids;
  d.popularity = w.popularity;
  d.metadata = {{"algorithm", "edlae"}};
  d.dtype = dtype;
  return WriteLowRankModel(path, d);
}

std::shared_ptr<const Model> OpenOrDie(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Model>> m = Model::Open(path);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : nullptr;
}

// The weight sections' table entries, in file order.
std::vector<SectionEntry> WeightSections(const std::string& bytes) {
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  std::vector<SectionEntry> out;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionEntry e;
    std::memcpy(&e, bytes.data() + sizeof(FileHeader) + i * sizeof(e),
                sizeof(e));
    if (e.id == static_cast<uint32_t>(SectionId::kDenseB) ||
        e.id == static_cast<uint32_t>(SectionId::kFactorU) ||
        e.id == static_cast<uint32_t>(SectionId::kFactorV)) {
      out.push_back(e);
    }
  }
  return out;
}

TEST(HalfModelFileTest, StoresRoundedHalvesInRowsOf64Bytes) {
  testing::ScratchDir dir;
  for (DType dtype : kHalves) {
    for (const auto& [n, rank] : {std::pair<size_t, size_t>{23, 0},
                                  {40, 0},
                                  {23, 5},
                                  {23, 32},
                                  {23, 33}}) {
      SCOPED_TRACE(absl::StrCat(DTypeName(dtype), " n=", n, " rank=", rank));
      const Weights w = RandomWeights(n, rank, static_cast<uint32_t>(n + rank));
      const std::string path = dir.File("m.edlae");
      ASSERT_TRUE(Write(w, dtype, path).ok());
      std::shared_ptr<const Model> m = OpenOrDie(path);
      ASSERT_NE(m, nullptr);
      EXPECT_EQ(m->dtype(), dtype);
      const size_t len = rank == 0 ? n : rank;
      EXPECT_EQ(m->row_stride(), (len + 31) / 32 * 32);  // 64-byte rows
      const std::vector<std::pair<WeightRows, const std::vector<float>*>>
          matrices = rank == 0
                         ? std::vector<std::pair<WeightRows,
                                                 const std::vector<float>*>>{
                               {m->dense_rows(), &w.b}}
                         : std::vector<std::pair<WeightRows,
                                                 const std::vector<float>*>>{
                               {m->u_rows(), &w.u}, {m->v_rows(), &w.v}};
      for (const auto& [rows, want] : matrices) {
        ASSERT_EQ(rows.dtype, dtype);
        ASSERT_EQ(rows.dim, len);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(reinterpret_cast<uintptr_t>(rows.row(i)) % 64, 0u);
          const auto* halves = static_cast<const uint16_t*>(rows.row(i));
          for (size_t c = 0; c < len; ++c) {
            // Round to nearest even, exactly as core/half.h does.
            ASSERT_EQ(halves[c], Narrow(dtype, (*want)[i * len + c]))
                << i << "," << c;
            ASSERT_EQ(WeightAt(rows, i, c), Widen(dtype, halves[c]));
          }
          for (size_t c = len; c < rows.stride; ++c) ASSERT_EQ(halves[c], 0);
          std::vector<float> widened(len);
          ReadRow(rows, i, len, widened.data());
          for (size_t c = 0; c < len; ++c) {
            ASSERT_EQ(widened[c], Widen(dtype, halves[c]));
          }
        }
      }
      // The header says what the sections hold: n rows of row_stride halves.
      const std::string bytes = ReadFile(path);
      FileHeader h;
      std::memcpy(&h, bytes.data(), sizeof(h));
      EXPECT_EQ(h.dtype, static_cast<uint32_t>(dtype));
      for (const SectionEntry& e : WeightSections(bytes)) {
        EXPECT_EQ(e.size, n * m->row_stride() * 2);
      }
    }
  }
}

TEST(HalfModelFileTest, HalvesTakeHalfTheBytes) {
  testing::ScratchDir dir;
  const Weights w = RandomWeights(200, 0, 1);
  ASSERT_TRUE(Write(w, DType::kFloat32, dir.File("f32")).ok());
  ASSERT_TRUE(Write(w, DType::kFloat16, dir.File("f16")).ok());
  const auto f32 = std::filesystem::file_size(dir.File("f32"));
  const auto f16 = std::filesystem::file_size(dir.File("f16"));
  // 200 × 208 floats vs 200 × 224 halves, plus the same small sections.
  EXPECT_LT(f16, f32 * 6 / 10);
}

TEST(HalfModelFileTest, WriterRejectsWeightsTheDtypeCannotHold) {
  testing::ScratchDir dir;
  Weights w = RandomWeights(20, 0, 2);
  w.b[57] = 70000.0f;  // beyond f16's 65504, fine for bf16
  const std::string path = dir.File("m.edlae");
  absl::Status s = Write(w, DType::kFloat16, path);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("float16"));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // no temporary left
  EXPECT_TRUE(Write(w, DType::kBFloat16, path).ok());
  w.b[57] = 65504.0f;  // the largest f16
  EXPECT_TRUE(Write(w, DType::kFloat16, path).ok());
  EXPECT_EQ(WeightAt(OpenOrDie(path)->dense_rows(), 2, 17), 65504.0f);
  w.b[57] = -65520.0f;  // rounds to -inf
  EXPECT_TRUE(absl::IsInvalidArgument(Write(w, DType::kFloat16, path)));
  w.b[57] = std::numeric_limits<float>::max();  // rounds to bf16 inf
  EXPECT_TRUE(absl::IsInvalidArgument(Write(w, DType::kBFloat16, path)));
  w.b[57] = std::nanf("");
  EXPECT_TRUE(absl::IsInvalidArgument(Write(w, DType::kBFloat16, path)));
  // The last good file is still there and intact.
  EXPECT_EQ(WeightAt(OpenOrDie(path)->dense_rows(), 2, 17), 65504.0f);
}

TEST(HalfModelFileTest, ReaderRejectsNonFiniteHalvesAndDirtyPadding) {
  testing::ScratchDir dir;
  for (DType dtype : kHalves) {
    for (size_t rank : {0u, 7u}) {
      SCOPED_TRACE(absl::StrCat(DTypeName(dtype), " rank=", rank));
      const Weights w = RandomWeights(9, rank, 3);
      const std::string path = dir.File("m.edlae");
      ASSERT_TRUE(Write(w, dtype, path).ok());
      const std::string bytes = ReadFile(path);
      const size_t len = rank == 0 ? 9 : rank;
      for (const SectionEntry& e : WeightSections(bytes)) {
        const uint16_t inf = dtype == DType::kFloat16 ? 0x7C00 : 0x7F80;
        const uint16_t nan = dtype == DType::kFloat16 ? 0xFE01 : 0xFFC1;
        struct Edit {
          size_t element;
          uint16_t value;
        };
        // Row 4: a weight set to inf, to NaN; a padding half set non-zero.
        for (const Edit edit : {Edit{4 * 32 + 3, inf}, Edit{4 * 32 + 0, nan},
                                Edit{4 * 32 + len, 0x0001}}) {
          std::string b = bytes;
          std::memcpy(b.data() + e.offset + 2 * edit.element, &edit.value, 2);
          testing::ResignAll(b);
          auto m = Model::FromBytes(b);
          EXPECT_TRUE(absl::IsDataLoss(m.status())) << m.status();
          EXPECT_THAT(m.status().message(), HasSubstr("row 4"));
        }
      }
      // Truncation anywhere and a flipped bit in the weights are caught.
      for (size_t keep = 0; keep < bytes.size(); keep += 7) {
        EXPECT_FALSE(Model::FromBytes(bytes.substr(0, keep)).ok()) << keep;
      }
      for (const SectionEntry& e : WeightSections(bytes)) {
        for (size_t at = e.offset; at < e.offset + e.size; at += 13) {
          std::string b = bytes;
          b[at] = static_cast<char>(b[at] ^ 0x04);
          EXPECT_TRUE(absl::IsDataLoss(Model::FromBytes(b).status())) << at;
        }
      }
    }
  }
}

// A half model scores exactly like the float32 model holding its widened
// weights: the kernels widen in registers and accumulate in float32 in the
// same order. Recommend, candidates, ComputeScores, RecommendMany and the
// offline batch scorers all agree bit for bit. On the Highway kernels: AMX
// tiles round a low-rank z to bfloat16 (AmxBf16LowRankModelIsConsistent).
TEST(HalfModelScoringTest, EqualsTheWidenedFloat32ModelBitForBit) {
  testing::ScratchDir dir;
  ASSERT_TRUE(ForceX86MatrixPathForTest(X86MatrixPath::kNone));
  for (DType dtype : kHalves) {
    for (const auto& [n, rank] :
         {std::pair<size_t, size_t>{2100, 0}, {700, 37}, {2100, 64}}) {
      SCOPED_TRACE(absl::StrCat(DTypeName(dtype), " n=", n, " rank=", rank));
      const Weights w = RandomWeights(n, rank, 4);
      ASSERT_TRUE(Write(w, dtype, dir.File("half")).ok());
      std::shared_ptr<const Model> half = OpenOrDie(dir.File("half"));
      ASSERT_TRUE(ConvertModel(*half, DType::kFloat32, dir.File("wide")).ok());
      std::shared_ptr<const Model> wide = OpenOrDie(dir.File("wide"));
      ASSERT_EQ(wide->dtype(), DType::kFloat32);

      std::mt19937 rng(5);
      std::vector<std::vector<HistoryEntry>> histories;
      for (size_t len : {1u, 3u, 4u, 5u, 17u, 60u}) {
        std::vector<HistoryEntry> h;
        for (size_t k = 0; k < len; ++k) {
          h.push_back({static_cast<uint32_t>(rng() % n),
                       k % 3 == 2 ? 0.5f : 1.0f});
        }
        histories.push_back(std::move(h));
      }
      std::vector<uint32_t> candidates = {1, 5, 9, 100, 101, 699, 3, 3};
      std::vector<uint32_t> exclude = {0, 2, 4, 6, 8};
      std::vector<ScoringRequest> requests;
      for (const auto& h : histories) {
        for (bool use_candidates : {false, true}) {
          RecommendOptions o;
          o.top_n = 50;
          o.exclude = exclude;
          if (use_candidates) o.candidates = candidates;
          auto got = Recommend(*half, h, o);
          auto want = Recommend(*wide, h, o);
          ASSERT_TRUE(got.ok() && want.ok());
          ASSERT_EQ(got->items.size(), want->items.size());
          for (size_t i = 0; i < want->items.size(); ++i) {
            ASSERT_EQ(got->items[i].index, want->items[i].index) << i;
            ASSERT_EQ(got->items[i].score, want->items[i].score) << i;
          }
          requests.push_back({h, o});
        }
        std::vector<float> a(n), b(n);
        ComputeScores(*half, h, absl::MakeSpan(a));
        ComputeScores(*wide, h, absl::MakeSpan(b));
        ASSERT_EQ(a, b);
      }
      // Micro-batched low-rank scoring over half-precision V.
      auto many = RecommendMany(*half, requests, /*max_batch=*/4);
      for (size_t r = 0; r < requests.size(); ++r) {
        auto one = Recommend(*half, requests[r].history, requests[r].options);
        ASSERT_TRUE(many[r].ok() && one.ok());
        ASSERT_EQ(many[r]->items.size(), one->items.size());
        for (size_t i = 0; i < one->items.size(); ++i) {
          ASSERT_EQ(many[r]->items[i].index, one->items[i].index);
          ASSERT_EQ(many[r]->items[i].score, one->items[i].score);
        }
      }
      // Offline evaluation's batch scorers.
      std::vector<uint64_t> offsets = {0};
      std::vector<uint32_t> items;
      for (const auto& h : histories) {
        for (const HistoryEntry& e : h) items.push_back(e.index);
        offsets.push_back(items.size());
      }
      const SparseRows rows{offsets, items};
      BatchOptions options;
      options.top_k = 20;
      options.block_users = 3;
      auto batch_half = rank == 0 ? TopKBatch(half->dense_rows(),
                                              half->popularity(), rows, options)
                                  : TopKBatchLowRank(*half, rows, options);
      auto batch_wide = rank == 0 ? TopKBatch(wide->dense_rows(),
                                              wide->popularity(), rows, options)
                                  : TopKBatchLowRank(*wide, rows, options);
      ASSERT_TRUE(batch_half.ok() && batch_wide.ok());
      EXPECT_EQ(*batch_half, *batch_wide);
      if (rank == 0) {
        options.method = BatchMethod::kGemm;  // widens B for sgemm
        auto gemm_half =
            TopKBatch(half->dense_rows(), half->popularity(), rows, options);
        auto gemm_wide =
            TopKBatch(wide->dense_rows(), wide->popularity(), rows, options);
        ASSERT_TRUE(gemm_half.ok() && gemm_wide.ok());
        EXPECT_EQ(*gemm_half, *gemm_wide);
      }
    }
  }
  ResetX86MatrixPath();
}

// A bf16 low-rank model on AMX tiles: z rounded to bfloat16 once per query,
// exact products, float32 sums in the tiles' order. Every entry point gives
// the same floats as ComputeScores (whole catalog, candidates, micro-batches
// of any size and thread count, the offline batch scorer), and they stay
// within the float32 rounding of z's bf16 rounding of the widened f32 model.
TEST(HalfModelScoringTest, AmxBf16LowRankModelIsConsistent) {
  if (!DetectX86MatrixFeatures().amx_bf16) {
    GTEST_SKIP() << "AMX-BF16 is not usable on this machine: path not tested";
  }
  ResetX86MatrixPath();
  ASSERT_EQ(ActiveMatrixPath(), "AMX");
  testing::ScratchDir dir;
  const size_t n = 1500, rank = 80;
  const Weights w = RandomWeights(n, rank, 31);
  ASSERT_TRUE(Write(w, DType::kBFloat16, dir.File("bf")).ok());
  std::shared_ptr<const Model> half = OpenOrDie(dir.File("bf"));
  ASSERT_TRUE(ConvertModel(*half, DType::kFloat32, dir.File("wide")).ok());
  std::shared_ptr<const Model> wide = OpenOrDie(dir.File("wide"));
  std::mt19937 rng(32);
  std::vector<std::vector<HistoryEntry>> histories;
  std::vector<std::vector<float>> expected;
  std::vector<ScoringRequest> requests;
  for (size_t len : {1u, 4u, 17u, 60u}) {
    std::vector<HistoryEntry> h;
    for (size_t k = 0; k < len; ++k) {
      h.push_back({static_cast<uint32_t>(rng() % n), 1.0f});
    }
    std::vector<float> a(n), b(n);
    ComputeScores(*half, h, absl::MakeSpan(a));
    ComputeScores(*wide, h, absl::MakeSpan(b));
    const std::vector<float> z = LatentVector(*half, h);
    const WeightRows v = half->v_rows();
    for (size_t j = 0; j < n; ++j) {
      // |Σ v·(bf16(z) − z)| ≤ 2⁻⁹·Σ|v·z|, plus float32 summation error.
      double bound = 0;
      for (size_t d = 0; d < rank; ++d) {
        bound += std::fabs(WeightAt(v, j, d) * z[d]);
      }
      ASSERT_NEAR(a[j], b[j], bound * (0x1p-9 + rank * 0x1p-23) + 1e-6) << j;
    }
    histories.push_back(h);
    expected.push_back(std::move(a));
  }
  for (const auto& h : histories) {  // requests borrow the histories
    RecommendOptions o;
    o.top_n = 40;
    requests.push_back({h, o});
  }
  const std::vector<uint32_t> candidates = {3, 77, 1499, 800, 12};
  for (size_t r = 0; r < histories.size(); ++r) {
    RecommendOptions o;
    o.top_n = 40;
    auto top = Recommend(*half, histories[r], o);
    ASSERT_TRUE(top.ok());
    for (const ScoredItem& s : top->items) {
      ASSERT_EQ(s.score, expected[r][s.index]);
    }
    o.candidates = candidates;
    auto some = Recommend(*half, histories[r], o);
    ASSERT_TRUE(some.ok());
    ASSERT_FALSE(some->items.empty());  // (history items are excluded)
    for (const ScoredItem& s : some->items) {
      ASSERT_EQ(s.score, expected[r][s.index]);
    }
  }
  for (size_t max_batch : {1u, 3u, 4u}) {
    for (int threads : {1, 2}) {
      auto many = RecommendMany(*half, requests,
                                RecommendManyOptions{max_batch, threads});
      for (size_t r = 0; r < requests.size(); ++r) {
        ASSERT_TRUE(many[r].ok()) << many[r].status();
        for (const ScoredItem& s : many[r]->items) {
          ASSERT_EQ(s.score, expected[r][s.index])
              << "batch " << max_batch << " threads " << threads;
        }
      }
    }
  }
  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> items;
  for (const auto& h : histories) {
    for (const HistoryEntry& e : h) items.push_back(e.index);
    offsets.push_back(items.size());
  }
  BatchOptions options;
  options.top_k = 20;
  options.block_users = 3;
  auto batch =
      ScoredTopKBatchLowRank(*half, SparseRows{offsets, items}, options);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), histories.size());
  for (size_t r = 0; r < histories.size(); ++r) {
    ASSERT_FALSE((*batch)[r].empty());
    for (const ScoredItem& s : (*batch)[r]) {
      ASSERT_EQ(s.score, expected[r][s.index]) << "user " << r;
    }
  }
}

TEST(ModelConvertTest, RoundTripsKeepIdsPopularityAndMetadata) {
  testing::ScratchDir dir;
  for (size_t rank : {0u, 9u}) {
    const Weights w = RandomWeights(45, rank, 6);
    ASSERT_TRUE(Write(w, DType::kFloat32, dir.File("f32")).ok());
    std::shared_ptr<const Model> f32 = OpenOrDie(dir.File("f32"));
    for (DType dtype : kHalves) {
      SCOPED_TRACE(absl::StrCat(DTypeName(dtype), " rank=", rank));
      ASSERT_TRUE(ConvertModel(*f32, dtype, dir.File("half")).ok());
      std::shared_ptr<const Model> half = OpenOrDie(dir.File("half"));
      EXPECT_EQ(half->dtype(), dtype);
      EXPECT_EQ(half->kind(), f32->kind());
      EXPECT_EQ(half->rank(), f32->rank());
      for (size_t i = 0; i < 45; ++i) EXPECT_EQ(half->item_id(i), w.ids[i]);
      EXPECT_TRUE(std::equal(half->popularity().begin(),
                             half->popularity().end(), w.popularity.begin()));
      EXPECT_EQ(half->GetMetadata("algorithm"), "edlae");
      EXPECT_EQ(half->GetMetadata("converted_from_fingerprint"),
                f32->fingerprint());
      EXPECT_EQ(half->GetMetadata("converted_from_dtype"), "float32");
      // Every weight is the source's, rounded to nearest even.
      const WeightRows src = rank == 0 ? f32->dense_rows() : f32->v_rows();
      const WeightRows dst = rank == 0 ? half->dense_rows() : half->v_rows();
      for (size_t i = 0; i < 45; ++i) {
        for (size_t c = 0; c < src.dim; ++c) {
          ASSERT_EQ(WeightAt(dst, i, c),
                    Widen(dtype, Narrow(dtype, WeightAt(src, i, c))));
        }
      }
      // Back to float32 is exact, and converting again keeps one provenance
      // entry naming the direct source.
      ASSERT_TRUE(ConvertModel(*half, DType::kFloat32, dir.File("back")).ok());
      std::shared_ptr<const Model> back = OpenOrDie(dir.File("back"));
      EXPECT_EQ(back->GetMetadata("converted_from_fingerprint"),
                half->fingerprint());
      EXPECT_EQ(back->GetMetadata("converted_from_dtype"), DTypeName(dtype));
      size_t provenance = 0;
      for (const auto& [k, v] : back->metadata()) {
        provenance += k == "converted_from_fingerprint";
      }
      EXPECT_EQ(provenance, 1u);
      const WeightRows round = rank == 0 ? back->dense_rows() : back->v_rows();
      for (size_t i = 0; i < 45; ++i) {
        for (size_t c = 0; c < dst.dim; ++c) {
          ASSERT_EQ(WeightAt(round, i, c), WeightAt(dst, i, c));
        }
      }
    }
  }
}

TEST(ModelConvertTest, ConvertsOverItsOwnFileAndFailsCleanly) {
  testing::ScratchDir dir;
  Weights w = RandomWeights(30, 0, 7);
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(Write(w, DType::kFloat32, path).ok());
  std::shared_ptr<const Model> mapped = OpenOrDie(path);
  const float before = WeightAt(mapped->dense_rows(), 3, 4);
  ASSERT_TRUE(ConvertModel(*mapped, DType::kBFloat16, path).ok());
  EXPECT_EQ(OpenOrDie(path)->dtype(), DType::kBFloat16);
  EXPECT_EQ(WeightAt(mapped->dense_rows(), 3, 4), before);  // old mapping intact

  // A weight f16 cannot hold: InvalidArgument, and the destination is kept.
  w.b[5] = 1e6f;
  ASSERT_TRUE(Write(w, DType::kFloat32, dir.File("big")).ok());
  const std::string kept = ReadFile(path);
  absl::Status s =
      ConvertModel(*OpenOrDie(dir.File("big")), DType::kFloat16, path);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(ReadFile(path), kept);
}

TEST(DTypeTest, NamesParseAndRoundTrip) {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    absl::StatusOr<DType> parsed = ParseDType(DTypeName(d));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_EQ(*ParseDType("f16"), DType::kFloat16);
  EXPECT_EQ(*ParseDType("bf16"), DType::kBFloat16);
  EXPECT_EQ(*ParseDType("f32"), DType::kFloat32);
  EXPECT_EQ(*ParseDType("int8"), DType::kInt8);
  EXPECT_EQ(*ParseDType("i8"), DType::kInt8);
  EXPECT_EQ(std::string(DTypeName(DType::kInt8)), "int8");
  EXPECT_TRUE(absl::IsInvalidArgument(ParseDType("int4").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseDType("").status()));
  EXPECT_EQ(RowAlignmentElements(DType::kFloat32), 16u);
  EXPECT_EQ(RowAlignmentElements(DType::kFloat16), 32u);
  EXPECT_EQ(RowAlignmentElements(DType::kBFloat16), 32u);
  EXPECT_EQ(RowAlignmentElements(DType::kInt8), 64u);
}

// The row scales section of an int8 file, as floats.
std::vector<float> RowScales(const std::string& bytes) {
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionEntry e;
    std::memcpy(&e, bytes.data() + sizeof(FileHeader) + i * sizeof(e),
                sizeof(e));
    if (e.id == static_cast<uint32_t>(SectionId::kRowScales)) {
      std::vector<float> scales(e.size / sizeof(float));
      std::memcpy(scales.data(), bytes.data() + e.offset, e.size);
      return scales;
    }
  }
  return {};
}

// int8 storage: each row of B rounded with its own scale max |row| / 127,
// rows of 64-byte multiples, the scales in their own section.
TEST(Int8ModelFileTest, StoresEachRowAsInt8WithItsScale) {
  testing::ScratchDir dir;
  Weights w = RandomWeights(70, 0, 11);
  std::fill(w.b.begin() + 3 * 70, w.b.begin() + 4 * 70, 0.0f);  // a zero row
  const std::string path = dir.File("m.edlae");
  ASSERT_TRUE(Write(w, DType::kInt8, path).ok());
  const std::string bytes = ReadFile(path);
  std::shared_ptr<const Model> m = OpenOrDie(path);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->dtype(), DType::kInt8);
  EXPECT_EQ(m->row_stride(), 128u);  // 70 int8 padded to 2 × 64 bytes
  const std::vector<float> scales = RowScales(bytes);
  ASSERT_EQ(scales.size(), 70u);
  const std::vector<SectionEntry> b = WeightSections(bytes);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].size, 70u * 128u);
  const WeightRows rows = m->dense_rows();
  for (size_t i = 0; i < 70; ++i) {
    float largest = 0;
    for (size_t j = 0; j < 70; ++j) largest = std::max(largest, std::fabs(w.b[i * 70 + j]));
    EXPECT_EQ(scales[i], largest / 127.0f) << i;
    EXPECT_EQ(rows.scale(i), scales[i]);
    const auto* q = reinterpret_cast<const int8_t*>(bytes.data() + b[0].offset + i * 128);
    for (size_t j = 0; j < 70; ++j) {
      const float want = w.b[i * 70 + j];
      EXPECT_LE(std::fabs(WeightAt(rows, i, j) - want), scales[i] / 2 * 1.0001f + 1e-30f)
          << i << "," << j;
      EXPECT_EQ(WeightAt(rows, i, j), scales[i] * static_cast<float>(q[j]));
      EXPECT_GE(q[j], -127);
    }
    for (size_t j = 70; j < 128; ++j) EXPECT_EQ(q[j], 0) << "padding";
  }
  EXPECT_EQ(scales[3], 0.0f);
  EXPECT_EQ(WeightAt(rows, 3, 5), 0.0f);
}

TEST(Int8ModelFileTest, ReaderRejectsBadScalesDamageAndInt8OnOtherKinds) {
  testing::ScratchDir dir;
  const Weights w = RandomWeights(9, 0, 12);
  ASSERT_TRUE(Write(w, DType::kInt8, dir.File("m.edlae")).ok());
  const std::string bytes = ReadFile(dir.File("m.edlae"));
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  uint64_t scales_at = 0;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionEntry e;
    std::memcpy(&e, bytes.data() + sizeof(FileHeader) + i * sizeof(e), sizeof(e));
    if (e.id == static_cast<uint32_t>(SectionId::kRowScales)) scales_at = e.offset;
  }
  ASSERT_NE(scales_at, 0u);
  for (float bad : {std::nanf(""), -1.0f, INFINITY}) {
    std::string b = bytes;
    std::memcpy(b.data() + scales_at + 4 * sizeof(float), &bad, sizeof(bad));
    testing::ResignAll(b);
    auto m = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(m.status())) << m.status();
    EXPECT_THAT(m.status().message(), HasSubstr("row scale of item 4"));
  }
  // Dirty padding in a row, flipped bits anywhere in the weights or scales,
  // truncation: all caught.
  {
    std::string b = bytes;
    b[WeightSections(bytes)[0].offset + 4 * 64 + 9] = 1;
    testing::ResignAll(b);
    EXPECT_THAT(Model::FromBytes(b).status().message(), HasSubstr("row 4"));
  }
  for (uint64_t at : {WeightSections(bytes)[0].offset + 5, scales_at + 2}) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x10);
    EXPECT_TRUE(absl::IsDataLoss(Model::FromBytes(b).status())) << at;
  }
  for (size_t keep = 0; keep < bytes.size(); keep += 7) {
    EXPECT_FALSE(Model::FromBytes(bytes.substr(0, keep)).ok()) << keep;
  }
  // A sparse file claiming int8 is refused as unsupported (the writer stores
  // int8 for dense and low-rank models only).
  SparseModelData sparse;
  const std::vector<uint64_t> offsets = {0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const std::vector<uint32_t> indices = {3};
  const std::vector<float> weights = {0.5f};
  sparse.offsets = offsets;
  sparse.indices = indices;
  sparse.weights = weights;
  const std::vector<std::string> ids = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
  const std::vector<float> pop(9, 1.0f);
  sparse.item_ids = ids;
  sparse.popularity = pop;
  sparse.dtype = DType::kInt8;
  const absl::Status refused = WriteSparseModel(dir.File("s8"), sparse);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("int8 storage is for dense and low-rank"));
  sparse.dtype = DType::kFloat32;
  ASSERT_TRUE(WriteSparseModel(dir.File("s"), sparse).ok());
  std::string b = ReadFile(dir.File("s"));
  FileHeader sh;
  std::memcpy(&sh, b.data(), sizeof(sh));
  sh.dtype = static_cast<uint32_t>(DType::kInt8);
  std::memcpy(b.data(), &sh, sizeof(sh));
  testing::ResignAll(b);
  const auto opened = Model::FromBytes(b);
  EXPECT_TRUE(absl::IsInvalidArgument(opened.status())) << opened.status();
  EXPECT_THAT(opened.status().message(), HasSubstr("int8 storage is for dense and low-rank"));
}

// Low-rank int8: U and V each row with its own scale, the scales section U's
// then V's (2·n floats); a bad scale of either matrix, flipped bits, a scales
// section of the dense size and truncation are all refused.
TEST(Int8ModelFileTest, LowRankStoresUThenVScales) {
  testing::ScratchDir dir;
  const Weights w = RandomWeights(37, 70, 21);
  ASSERT_TRUE(Write(w, DType::kInt8, dir.File("lr8")).ok());
  const std::string bytes = ReadFile(dir.File("lr8"));
  std::shared_ptr<const Model> m = OpenOrDie(dir.File("lr8"));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->kind(), ModelKind::kLowRank);
  EXPECT_EQ(m->dtype(), DType::kInt8);
  EXPECT_EQ(m->row_stride(), 128u);
  const std::vector<float> scales = RowScales(bytes);
  ASSERT_EQ(scales.size(), 2u * 37u);
  for (size_t i = 0; i < 37; ++i) {
    float lu = 0, lv = 0;
    for (size_t c = 0; c < 70; ++c) {
      lu = std::max(lu, std::fabs(w.u[i * 70 + c]));
      lv = std::max(lv, std::fabs(w.v[i * 70 + c]));
    }
    EXPECT_EQ(scales[i], lu / 127.0f) << i;
    EXPECT_EQ(scales[37 + i], lv / 127.0f) << i;
    EXPECT_EQ(m->u_rows().scale(i), scales[i]);
    EXPECT_EQ(m->v_rows().scale(i), scales[37 + i]);
    for (size_t c = 0; c < 70; ++c) {
      EXPECT_LE(std::fabs(WeightAt(m->u_rows(), i, c) - w.u[i * 70 + c]),
                scales[i] / 2 * 1.0001f + 1e-30f);
      EXPECT_LE(std::fabs(WeightAt(m->v_rows(), i, c) - w.v[i * 70 + c]),
                scales[37 + i] / 2 * 1.0001f + 1e-30f);
    }
  }
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  uint64_t scales_at = 0;
  uint32_t scales_entry = 0;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    SectionEntry e;
    std::memcpy(&e, bytes.data() + sizeof(FileHeader) + i * sizeof(e), sizeof(e));
    if (e.id == static_cast<uint32_t>(SectionId::kRowScales)) {
      scales_at = e.offset;
      scales_entry = i;
    }
  }
  ASSERT_NE(scales_at, 0u);
  for (size_t at : {size_t{4}, size_t{37 + 6}}) {
    const float bad = -2.0f;
    std::string b = bytes;
    std::memcpy(b.data() + scales_at + at * sizeof(float), &bad, sizeof(bad));
    testing::ResignAll(b);
    auto opened = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(opened.status())) << opened.status();
    EXPECT_THAT(opened.status().message(),
                HasSubstr(at < 37 ? "row scale of item 4 of U" : "row scale of item 6 of V"));
  }
  {
    // A table that gives the scales the dense size (n floats) is refused.
    std::string b = bytes;
    SectionEntry e;
    const size_t entry_at = sizeof(FileHeader) + scales_entry * sizeof(e);
    std::memcpy(&e, b.data() + entry_at, sizeof(e));
    e.size = 37 * sizeof(float);
    std::memcpy(b.data() + entry_at, &e, sizeof(e));
    testing::ResignAll(b);
    auto opened = Model::FromBytes(b);
    EXPECT_FALSE(opened.ok());
    EXPECT_THAT(opened.status().message(), HasSubstr("row scales"));
  }
  for (uint64_t at : {WeightSections(bytes)[1].offset + 3, scales_at + 37 * 4 + 1}) {
    std::string b = bytes;
    b[at] = static_cast<char>(b[at] ^ 0x04);
    EXPECT_TRUE(absl::IsDataLoss(Model::FromBytes(b).status())) << at;
  }
  for (size_t keep = 0; keep < bytes.size(); keep += 11) {
    EXPECT_FALSE(Model::FromBytes(bytes.substr(0, keep)).ok()) << keep;
  }
}

// An int8 model scores as Σ_h (weight_h · scale_h) · q_h[j]: against a double
// reference within float32 rounding; Recommend, candidates, ComputeScores,
// RecommendMany and the offline batch scorer agree with each other exactly,
// the gemm scorer (B widened to scale · q for sgemm) to rounding.
TEST(Int8ModelScoringTest, ScoresTheDequantizedWeights) {
  testing::ScratchDir dir;
  const size_t n = 2100;
  const Weights w = RandomWeights(n, 0, 14);
  ASSERT_TRUE(Write(w, DType::kInt8, dir.File("q")).ok());
  std::shared_ptr<const Model> q = OpenOrDie(dir.File("q"));
  ASSERT_NE(q, nullptr);
  const WeightRows rows = q->dense_rows();
  std::mt19937 rng(15);
  std::vector<std::vector<HistoryEntry>> histories;
  for (size_t len : {1u, 3u, 4u, 5u, 17u, 60u}) {
    std::vector<HistoryEntry> h;
    for (size_t k = 0; k < len; ++k) {
      h.push_back({static_cast<uint32_t>(rng() % n), k % 3 == 2 ? 0.5f : 1.0f});
    }
    histories.push_back(std::move(h));
  }
  std::vector<uint32_t> candidates = {1, 5, 9, 100, 101, 2099, 3, 3};
  for (const auto& h : histories) {
    std::vector<float> scores(n);
    ComputeScores(*q, h, absl::MakeSpan(scores));
    for (size_t j = 0; j < n; ++j) {
      double want = 0, magnitude = 0;
      for (const HistoryEntry& e : h) {
        const double term = static_cast<double>(e.weight) * WeightAt(rows, e.index, j);
        want += term;
        magnitude += std::fabs(term);
      }
      ASSERT_NEAR(scores[j], want, 1e-5 * magnitude + 1e-30) << j;
    }
    RecommendOptions o;
    o.top_n = 50;
    auto top = Recommend(*q, h, o);
    ASSERT_TRUE(top.ok());
    for (const ScoredItem& s : top->items) ASSERT_EQ(s.score, scores[s.index]);
    o.candidates = candidates;
    auto some = Recommend(*q, h, o);
    ASSERT_TRUE(some.ok());
    for (const ScoredItem& s : some->items) {
      ASSERT_NEAR(s.score, scores[s.index], 1e-5 * std::fabs(scores[s.index]) + 1e-6);
    }
  }
  std::vector<ScoringRequest> requests;
  for (const auto& h : histories) requests.push_back({h, RecommendOptions{}});
  auto many = RecommendMany(*q, requests, /*max_batch=*/4);
  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> items;
  for (size_t r = 0; r < requests.size(); ++r) {
    auto one = Recommend(*q, requests[r].history, requests[r].options);
    ASSERT_TRUE(many[r].ok() && one.ok());
    ASSERT_EQ(many[r]->items.size(), one->items.size());
    for (size_t i = 0; i < one->items.size(); ++i) {
      ASSERT_EQ(many[r]->items[i].score, one->items[i].score);
    }
    for (const HistoryEntry& e : histories[r]) {
      if (e.weight == 1.0f) items.push_back(e.index);
    }
    offsets.push_back(items.size());
  }
  const SparseRows batch_rows{offsets, items};
  BatchOptions options;
  options.top_k = 20;
  auto exact = ScoredTopKBatch(q->dense_rows(), q->popularity(), batch_rows, options);
  options.method = BatchMethod::kGemm;
  auto gemm = ScoredTopKBatch(q->dense_rows(), q->popularity(), batch_rows, options);
  ASSERT_TRUE(exact.ok() && gemm.ok());
  ASSERT_EQ(exact->size(), gemm->size());
  for (size_t u = 0; u < exact->size(); ++u) {
    ASSERT_EQ((*exact)[u].size(), (*gemm)[u].size());
    for (size_t i = 0; i < (*exact)[u].size(); ++i) {
      EXPECT_NEAR((*exact)[u][i].score, (*gemm)[u][i].score,
                  1e-5 * std::fabs((*exact)[u][i].score) + 1e-6);
    }
  }
  // Converting back to float32 stores scale · q exactly.
  ASSERT_TRUE(ConvertModel(*q, DType::kFloat32, dir.File("wide")).ok());
  std::shared_ptr<const Model> wide = OpenOrDie(dir.File("wide"));
  for (size_t i : {0u, 7u, 2099u}) {
    for (size_t j : {0u, 1u, 2098u}) {
      EXPECT_EQ(WeightAt(wide->dense_rows(), i, j), WeightAt(rows, i, j));
    }
  }
}

// Low-rank int8: z = x·U from the dequantized U, quantized per query with its
// own scale; score_j = float(exact Σ_d q_d · V_j[d]) · (s_z · s_j). Every path —
// ComputeScores, Recommend (whole catalog and candidates), RecommendMany at
// any batch size and thread count, each SIMD target — gives exactly those
// floats; they are within s_z/2 · Σ|V_j| of <z, V_j> on the dequantized V.
TEST(Int8ModelScoringTest, LowRankQuantizesEachQueryOnce) {
  testing::ScratchDir dir;
  const size_t n = 1100, k = 70;
  const Weights w = RandomWeights(n, k, 22);
  ASSERT_TRUE(Write(w, DType::kInt8, dir.File("lr8")).ok());
  std::shared_ptr<const Model> m = OpenOrDie(dir.File("lr8"));
  ASSERT_NE(m, nullptr);
  const WeightRows v = m->v_rows();
  std::mt19937 rng(23);
  std::vector<std::vector<HistoryEntry>> histories;
  for (size_t len : {1u, 2u, 5u, 9u, 40u}) {
    std::vector<HistoryEntry> h;
    for (size_t i = 0; i < len; ++i) {
      h.push_back({static_cast<uint32_t>(rng() % n), i % 4 == 3 ? 0.25f : 1.0f});
    }
    histories.push_back(std::move(h));
  }
  std::vector<std::vector<float>> expected;
  for (const auto& h : histories) {
    const std::vector<float> z = LatentVector(*m, h);
    float max_abs = 0;
    for (float x : z) max_abs = std::max(max_abs, std::fabs(x));
    const float s_z = max_abs / 127.0f;
    std::vector<int32_t> q(z.size());
    for (size_t d = 0; d < z.size(); ++d) {
      q[d] = s_z > 0 ? static_cast<int32_t>(std::nearbyint(z[d] / s_z)) : 0;
      ASSERT_LE(std::abs(q[d]), 127);
    }
    std::vector<float> want(n);
    for (size_t j = 0; j < n; ++j) {
      const auto* row = static_cast<const int8_t*>(v.row(j));
      int64_t dot = 0;
      double exact = 0, bound = 0;
      for (size_t d = 0; d < k; ++d) {
        dot += int64_t{row[d]} * q[d];
        exact += static_cast<double>(z[d]) * WeightAt(v, j, d);
        bound += std::fabs(WeightAt(v, j, d));
      }
      want[j] = static_cast<float>(dot) * (s_z * v.scale(j));
      ASSERT_NEAR(want[j], exact, s_z / 2 * bound * 1.001 + 1e-6) << j;
    }
    std::vector<float> scores(n);
    ComputeScores(*m, h, absl::MakeSpan(scores));
    for (size_t j = 0; j < n; ++j) ASSERT_EQ(scores[j], want[j]) << j;
    expected.push_back(std::move(want));
  }
  const std::vector<uint32_t> candidates = {0, 7, 99, 1099, 512};
  auto check_all = [&](const std::string& where) {
    std::vector<ScoringRequest> requests;
    for (size_t r = 0; r < histories.size(); ++r) {
      RecommendOptions o;
      o.top_n = 30;
      auto top = Recommend(*m, histories[r], o);
      ASSERT_TRUE(top.ok()) << where;
      ASSERT_EQ(top->items.size(), 30u);
      for (const ScoredItem& s : top->items) {
        ASSERT_EQ(s.score, expected[r][s.index]) << where;
      }
      o.candidates = candidates;
      auto some = Recommend(*m, histories[r], o);
      ASSERT_TRUE(some.ok()) << where << " " << some.status();
      for (const ScoredItem& s : some->items) {
        ASSERT_EQ(s.score, expected[r][s.index]) << where;
      }
      requests.push_back({histories[r], RecommendOptions{}});
    }
    for (size_t max_batch : {1u, 2u, 5u}) {
      for (int threads : {1, 3}) {
        auto many = RecommendMany(*m, requests, RecommendManyOptions{max_batch, threads});
        for (size_t r = 0; r < requests.size(); ++r) {
          ASSERT_TRUE(many[r].ok()) << where;
          for (const ScoredItem& s : many[r]->items) {
            ASSERT_EQ(s.score, expected[r][s.index])
                << where << " batch " << max_batch << " threads " << threads;
          }
        }
      }
    }
  };
  for (int64_t target : AvailableSimdTargets()) {
    ForceSimdTargetForTest(target);
    check_all(hwy::TargetName(target));
  }
  ForceSimdTargetForTest(0);  // the default: AMX-INT8 tiles where present
  check_all(absl::StrCat("default, matrix path ", ActiveMatrixPath()));
  if (ForceX86MatrixPathForTest(X86MatrixPath::kVnni)) {
    check_all("matrix path VNNI");
    ResetX86MatrixPath();
  }
}

}  // namespace
}  // namespace edlae
