// Sparse (CSR) models: write/open round trip, scoring against a scalar
// reference, corruption, pruning from dense.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/model_convert.h"
#include "core/model_format.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/model_corpus.h"

namespace edlae {
namespace {

using ::testing::HasSubstr;

struct Csr {
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> indices;
  std::vector<float> weights;
  std::vector<std::string> ids;
  std::vector<float> popularity;

  SparseModelData data(DType dtype = DType::kFloat32) const {
    SparseModelData d;
    d.offsets = offsets;
    d.indices = indices;
    d.weights = weights;
    d.item_ids = ids;
    d.popularity = popularity;
    d.metadata = {{"algorithm", "ease"}};
    d.dtype = dtype;
    return d;
  }
  // B[i, j] (0 when not stored).
  float At(size_t i, size_t j) const {
    for (uint64_t e = offsets[i]; e < offsets[i + 1]; ++e) {
      if (indices[e] == j) return weights[e];
    }
    return 0.0f;
  }
};

// n items, each row holding about `per_row` random entries (some rows empty).
Csr RandomCsr(size_t n, size_t per_row, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> w(-1.0f, 1.0f);
  Csr c;
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t> cols;
    if (i % 7 != 3) {  // every seventh row empty
      for (size_t k = 0; k < per_row; ++k) cols.push_back(rng() % n);
    }
    std::sort(cols.begin(), cols.end());
    cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
    for (uint32_t j : cols) {
      c.indices.push_back(j);
      c.weights.push_back(w(rng));
    }
    c.offsets.push_back(c.indices.size());
    c.ids.push_back("item" + std::to_string(i));
    c.popularity.push_back(static_cast<float>((i * 37) % 11));
  }
  return c;
}

class SparseModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("edlae_sparse_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string File(const std::string& name) const {
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(SparseModelTest, RoundTripKeepsEveryEntry) {
  const Csr c = RandomCsr(300, 12, 1);
  ASSERT_TRUE(WriteSparseModel(File("s.edlae"), c.data()).ok());
  auto model = Model::Open(File("s.edlae"));
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  EXPECT_EQ(m.kind(), ModelKind::kSparse);
  EXPECT_EQ(m.num_items(), 300u);
  EXPECT_EQ(m.rank(), 0u);
  EXPECT_EQ(m.nnz(), c.indices.size());
  const CsrWeights b = m.sparse_rows();
  ASSERT_EQ(b.nnz, c.indices.size());
  for (size_t i = 0; i <= 300; ++i) EXPECT_EQ(b.offsets[i], c.offsets[i]);
  for (size_t e = 0; e < b.nnz; ++e) {
    EXPECT_EQ(b.indices[e], c.indices[e]);
    EXPECT_EQ(b.weight(e), c.weights[e]);
  }
  EXPECT_EQ(m.item_id(5), "item5");
  EXPECT_EQ(*m.GetMetadata("algorithm"), "ease");
}

// Recommend on a sparse model = brute force over the stored entries: the same
// scores bit for bit (both add rows in history order), ranked by RanksBefore.
TEST_F(SparseModelTest, RecommendMatchesAScalarReference) {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    const size_t n = 5000;  // several 2048-item blocks
    Csr c = RandomCsr(n, 40, 2);
    // The stored weights after rounding, for the reference.
    if (dtype != DType::kFloat32) {
      for (float& w : c.weights) w = WidenHalf(dtype, NarrowToHalf(dtype, w));
    }
    const std::string path = File("s.edlae");
    ASSERT_TRUE(WriteSparseModel(path, c.data(dtype)).ok());
    auto model = Model::Open(path);
    ASSERT_TRUE(model.ok()) << model.status();
    const std::vector<HistoryEntry> history = {
        {10, 1.0f}, {4999, 2.0f}, {2047, 0.5f}, {2048, 1.0f}, {10, 1.0f}};
    std::vector<float> want(n, 0.0f);
    for (size_t j = 0; j < n; ++j) {
      for (const HistoryEntry& h : history) {
        want[j] += h.weight * c.At(h.index, j);
      }
    }
    std::vector<float> got(n);
    ComputeScores(**model, history, absl::MakeSpan(got));
    for (size_t j = 0; j < n; ++j) ASSERT_EQ(got[j], want[j]) << j;

    RecommendOptions options;
    options.top_n = 50;
    const std::vector<uint32_t> exclude = {7, 8, 9};
    options.exclude = exclude;
    auto rec = Recommend(**model, history, options);
    ASSERT_TRUE(rec.ok()) << rec.status();
    std::vector<ScoredItem> all;
    for (uint32_t j = 0; j < n; ++j) {
      const bool excluded = j == 7 || j == 8 || j == 9 || j == 10 ||
                            j == 4999 || j == 2047 || j == 2048;
      if (!excluded) all.push_back({j, want[j]});
    }
    std::sort(all.begin(), all.end(), RanksBefore);
    ASSERT_EQ(rec->items.size(), 50u);
    for (size_t k = 0; k < 50; ++k) {
      EXPECT_EQ(rec->items[k].index, all[k].index) << k;
      EXPECT_EQ(rec->items[k].score, all[k].score) << k;
    }
    EXPECT_FALSE(rec->popularity_fallback);

    // Candidates: scored one by one, the same scores.
    const std::vector<uint32_t> candidates = {3000, 1, 2048, 4998, 1};
    options.candidates = candidates;
    rec = Recommend(**model, history, options);
    ASSERT_TRUE(rec.ok());
    ASSERT_EQ(rec->items.size(), 3u);  // 2048 is history; 1 counts once
    for (const ScoredItem& s : rec->items) EXPECT_EQ(s.score, want[s.index]);

    // An empty history falls back to popularity.
    options.candidates = {};
    rec = Recommend(**model, {}, options);
    ASSERT_TRUE(rec.ok());
    EXPECT_TRUE(rec->popularity_fallback);
    std::vector<uint32_t> popular;  // by popularity, 7..9 still excluded
    for (uint32_t i : (*model)->items_by_popularity()) {
      if (i < 7 || i > 9) popular.push_back(i);
    }
    ASSERT_EQ(rec->items.size(), 50u);
    for (size_t k = 0; k < 50; ++k) EXPECT_EQ(rec->items[k].index, popular[k]);
  }
}

TEST_F(SparseModelTest, HugeTopNDoesNotAllocateBeyondTheCatalog) {
  const Csr c = RandomCsr(100, 5, 3);
  ASSERT_TRUE(WriteSparseModel(File("s.edlae"), c.data()).ok());
  auto model = Model::Open(File("s.edlae"));
  ASSERT_TRUE(model.ok());
  RecommendOptions options;
  options.top_n = std::numeric_limits<uint32_t>::max();
  const std::vector<HistoryEntry> history = {{1, 1.0f}};
  auto rec = Recommend(**model, history, options);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->items.size(), 99u);
  rec = Recommend(**model, {}, options);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->items.size(), 100u);
}

TEST_F(SparseModelTest, WriterRefusesMalformedCsr) {
  const Csr good = RandomCsr(50, 6, 4);
  auto expect_invalid = [&](const Csr& c, const char* what) {
    absl::Status s = WriteSparseModel(File("bad.edlae"), c.data());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << what << ": " << s;
    EXPECT_FALSE(std::filesystem::exists(File("bad.edlae"))) << what;
  };
  Csr c = good;
  c.offsets.pop_back();
  expect_invalid(c, "short offsets");
  c = good;
  std::swap(c.indices[0], c.indices[1]);
  expect_invalid(c, "unsorted row");
  c = good;
  c.indices[0] = 50;
  expect_invalid(c, "index out of range");
  c = good;
  c.weights[3] = std::nanf("");
  expect_invalid(c, "NaN weight");
  c = good;
  c.weights.pop_back();
  expect_invalid(c, "weights and indices differ");
  c = good;
  c.weights[0] = 1e6f;
  EXPECT_TRUE(absl::IsInvalidArgument(
      WriteSparseModel(File("bad.edlae"), c.data(DType::kFloat16))));
}

// Every truncation and a bit flip in every byte of a small sparse file are
// refused or, where the byte is not covered by a check (none should be),
// reported; the reader never crashes (ASan runs this suite in CI).
TEST_F(SparseModelTest, TruncationAndByteFlipsAreDetected) {
  const Csr c = RandomCsr(40, 4, 5);
  ASSERT_TRUE(WriteSparseModel(File("s.edlae"), c.data()).ok());
  const std::string bytes = testing::ReadBytes(File("s.edlae"));
  ASSERT_TRUE(Model::FromBytes(bytes).ok());
  for (size_t keep = 0; keep < bytes.size(); ++keep) {
    ASSERT_FALSE(Model::FromBytes(bytes.substr(0, keep)).ok()) << keep;
  }
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string b = bytes;
    b[pos] = static_cast<char>(b[pos] ^ 0x01);
    auto m = Model::FromBytes(b);
    // Padding between sections is the only part no checksum covers.
    if (m.ok()) {
      bool in_section =
          pos < sizeof(FileHeader) + h.section_count * sizeof(SectionEntry);
      for (uint32_t s = 0; s < h.section_count; ++s) {
        SectionEntry e;
        std::memcpy(
            &e, bytes.data() + sizeof(FileHeader) + s * sizeof(SectionEntry),
            sizeof(e));
        if (pos >= e.offset && pos < e.offset + e.size) in_section = true;
      }
      EXPECT_FALSE(in_section) << "flip at covered byte " << pos;
    }
  }
  for (const auto& [name, variant] : testing::CorruptVariants(bytes)) {
    EXPECT_FALSE(Model::FromBytes(variant).ok()) << name;
  }
}

// CSR content checks run after the checksums: edits re-signed so that only
// the structural validation can catch them.
TEST_F(SparseModelTest, ResignedStructuralDamageIsDataLoss) {
  const Csr c = RandomCsr(40, 4, 6);
  ASSERT_TRUE(WriteSparseModel(File("s.edlae"), c.data()).ok());
  const std::string bytes = testing::ReadBytes(File("s.edlae"));
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  auto section = [&](SectionId id) {
    for (uint32_t s = 0; s < h.section_count; ++s) {
      SectionEntry e;
      std::memcpy(&e,
                  bytes.data() + sizeof(FileHeader) + s * sizeof(SectionEntry),
                  sizeof(e));
      if (e.id == static_cast<uint32_t>(id)) return e;
    }
    ADD_FAILURE() << "no section " << static_cast<uint32_t>(id);
    return SectionEntry{};
  };
  const SectionEntry offsets = section(SectionId::kSparseOffsets);
  const SectionEntry indices = section(SectionId::kSparseIndices);
  const SectionEntry weights = section(SectionId::kSparseWeights);
  auto expect_data_loss = [&](std::string b, const char* want) {
    testing::ResignAll(b);
    auto m = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(m.status())) << want << ": " << m.status();
    EXPECT_THAT(m.status().message(), HasSubstr(want));
  };
  {
    std::string b = bytes;
    const uint64_t big = 1000;
    std::memcpy(b.data() + offsets.offset + 8, &big, 8);  // offsets[1]
    expect_data_loss(b, "sparse offsets decrease");
  }
  {
    std::string b = bytes;
    const uint32_t out_of_range = 40;
    std::memcpy(b.data() + indices.offset, &out_of_range, 4);
    expect_data_loss(b, ">= num_items");
  }
  {
    std::string b = bytes;
    const uint32_t first = c.indices[1];
    std::memcpy(b.data() + indices.offset, &first, 4);  // row 0: i1, i1
    expect_data_loss(b, "strictly ascending");
  }
  {
    std::string b = bytes;
    const float inf = INFINITY;
    std::memcpy(b.data() + weights.offset, &inf, 4);
    expect_data_loss(b, "non-finite");
  }
  {
    std::string b = bytes;
    const uint64_t stride = 16;
    std::memcpy(b.data() + offsetof(FileHeader, row_stride), &stride, 8);
    expect_data_loss(b, "row_stride");
  }
}

TEST_F(SparseModelTest, PruneKeepsTheLargestMagnitudesPerRow) {
  // A dense 6-item model with known rows.
  const size_t n = 6;
  std::vector<float> b(n * n);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> w(-2.0f, 2.0f);
  for (float& x : b) x = w(rng);
  for (size_t i = 0; i < n; ++i) b[i * n + i] = 0.0f;  // EASE: zero diagonal
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("i" + std::to_string(i));
  const std::vector<float> pop(n, 1.0f);
  DenseModelData dense;
  dense.b = b;
  dense.item_ids = ids;
  dense.popularity = pop;
  ASSERT_TRUE(WriteDenseModel(File("d.edlae"), dense).ok());
  auto d = Model::Open(File("d.edlae"));
  ASSERT_TRUE(d.ok());

  ASSERT_TRUE(PruneToSparse(**d, 2, DType::kFloat32, File("p.edlae")).ok());
  auto p = Model::Open(File("p.edlae"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->kind(), ModelKind::kSparse);
  EXPECT_EQ((*p)->nnz(), 2 * n);
  EXPECT_EQ(*(*p)->GetMetadata("prune_topk"), "2");
  EXPECT_EQ(*(*p)->GetMetadata("pruned_from_fingerprint"), (*d)->fingerprint());
  const CsrWeights csr = (*p)->sparse_rows();
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> mags;
    for (size_t j = 0; j < n; ++j) mags.push_back(std::fabs(b[i * n + j]));
    std::sort(mags.rbegin(), mags.rend());
    ASSERT_EQ(csr.offsets[i + 1] - csr.offsets[i], 2u);
    for (uint64_t e = csr.offsets[i]; e < csr.offsets[i + 1]; ++e) {
      EXPECT_EQ(csr.weight(e), b[i * n + csr.indices[e]]);
      EXPECT_GE(std::fabs(csr.weight(e)), mags[1]);
    }
  }

  // Keeping every entry: the zero diagonal is dropped, and scores equal the
  // dense model's up to float rounding.
  ASSERT_TRUE(PruneToSparse(**d, n, DType::kFloat32, File("all.edlae")).ok());
  auto all = Model::Open(File("all.edlae"));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)->nnz(), n * (n - 1));
  const std::vector<HistoryEntry> history = {{0, 1.0f}, {3, 1.0f}};
  std::vector<float> want(n), got(n);
  ComputeScores(**d, history, absl::MakeSpan(want));
  ComputeScores(**all, history, absl::MakeSpan(got));
  for (size_t j = 0; j < n; ++j) EXPECT_NEAR(got[j], want[j], 1e-6f) << j;

  // Converting a sparse model's dtype keeps its structure.
  ASSERT_TRUE(ConvertModel(**p, DType::kBFloat16, File("p16.edlae")).ok());
  auto p16 = Model::Open(File("p16.edlae"));
  ASSERT_TRUE(p16.ok());
  EXPECT_EQ((*p16)->dtype(), DType::kBFloat16);
  EXPECT_EQ((*p16)->nnz(), (*p)->nnz());

  EXPECT_TRUE(absl::IsInvalidArgument(
      PruneToSparse(**p, 2, DType::kFloat32, File("x.edlae"))));
  EXPECT_TRUE(absl::IsInvalidArgument(
      PruneToSparse(**d, 0, DType::kFloat32, File("x.edlae"))));
  EXPECT_EQ(KeepPerRowForDensity(0.5, 6), 3u);
  EXPECT_EQ(KeepPerRowForDensity(1e-9, 6), 1u);
  EXPECT_EQ(KeepPerRowForDensity(2.0, 6), 6u);
}

}  // namespace
}  // namespace edlae
