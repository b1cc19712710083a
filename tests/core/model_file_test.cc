// Model file tests: writer, reader, corrupt and crafted files, MappedFile.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "absl/status/status.h"
#include "core/mapped_file.h"
#include "core/model.h"
#include "core/model_format.h"
#include "core/model_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/model_corpus.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

using ::edlae::testing::ScratchDir;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------
// Helpers.

struct TestModel {
  std::vector<float> b;
  std::vector<std::string> ids;
  std::vector<float> popularity;
  std::vector<std::pair<std::string, std::string>> metadata;

  DenseModelData data() const {
    return DenseModelData{absl::MakeConstSpan(b), absl::MakeConstSpan(ids),
                          absl::MakeConstSpan(popularity), metadata};
  }
};

// Random B, string ids of varying length (some non-ASCII), popularity with
// deliberate ties.
TestModel RandomModel(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TestModel m;
  m.b.resize(n * n);
  for (float& x : m.b) x = normal(rng);
  for (size_t i = 0; i < n; ++i) {
    std::string id = "item-" + std::to_string(i * 7919 % 100003);
    if (i % 5 == 1) id += "-\xc3\xa9t\xc3\xa9";  // "été"
    if (i % 7 == 3) id += std::string(i % 13, 'x');
    m.ids.push_back(std::move(id));
    m.popularity.push_back(static_cast<float>(rng() % 4));  // many ties
  }
  m.metadata = {{"algorithm", "edlae"},
                {"lambda", "500"},
                {"dropout", "0.25"},
                {"num_items", std::to_string(n)},
                {"source", "unit test seed " + std::to_string(seed)}};
  return m;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string WriteBytes(const TestModel& m) {
  ScratchDir dir;
  const std::string path = dir.File("m.edlae");
  absl::Status s = WriteDenseModel(path, m.data());
  EXPECT_TRUE(s.ok()) << s;
  return ReadFile(path);
}

std::vector<std::string> ListDir(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

FileHeader GetHeader(const std::string& bytes) {
  FileHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  return h;
}

std::vector<SectionEntry> GetTable(const std::string& bytes) {
  const FileHeader h = GetHeader(bytes);
  std::vector<SectionEntry> table(h.section_count);
  std::memcpy(table.data(), bytes.data() + sizeof(FileHeader),
              table.size() * sizeof(SectionEntry));
  return table;
}

uint64_t HeaderChecksum(const FileHeader& header, const char* table,
                        size_t table_bytes) {
  FileHeader h = header;
  h.header_checksum = 0;
  std::string buf(reinterpret_cast<const char*>(&h), sizeof(h));
  buf.append(table, table_bytes);
  return XXH3_64bits(buf.data(), buf.size());
}

// Writes `h` (and optionally `table`) into `bytes` and recomputes the header
// checksum, so that tests reach the checks behind it.
void PatchHeader(std::string& bytes, FileHeader h,
                 const std::vector<SectionEntry>* table = nullptr) {
  if (table != nullptr) {
    std::memcpy(bytes.data() + sizeof(FileHeader), table->data(),
                table->size() * sizeof(SectionEntry));
  }
  const size_t count =
      std::min<uint64_t>(h.section_count, (bytes.size() - sizeof(FileHeader)) /
                                              sizeof(SectionEntry));
  h.header_checksum = HeaderChecksum(h, bytes.data() + sizeof(FileHeader),
                                     count * sizeof(SectionEntry));
  std::memcpy(bytes.data(), &h, sizeof(h));
}

// An independent re-implementation of the layout, for crafting files.
struct RawSection {
  uint32_t id;
  std::string bytes;
  uint32_t flags = 0;
};

std::vector<RawSection> Disassemble(const std::string& bytes) {
  std::vector<RawSection> out;
  for (const SectionEntry& e : GetTable(bytes)) {
    out.push_back({e.id, bytes.substr(e.offset, e.size), e.flags});
  }
  return out;
}

std::string Assemble(FileHeader h, const std::vector<RawSection>& sections) {
  std::vector<SectionEntry> table;
  uint64_t pos = sizeof(FileHeader) + sections.size() * sizeof(SectionEntry);
  std::string body;
  for (const RawSection& s : sections) {
    pos = (pos + kSectionAlignment - 1) / kSectionAlignment * kSectionAlignment;
    SectionEntry e{};
    e.id = s.id;
    e.flags = s.flags;
    e.offset = pos;
    e.size = s.bytes.size();
    e.checksum = XXH3_64bits(s.bytes.data(), s.bytes.size());
    table.push_back(e);
    pos += s.bytes.size();
  }
  std::string out(pos, '\0');
  for (size_t i = 0; i < sections.size(); ++i) {
    std::memcpy(out.data() + table[i].offset, sections[i].bytes.data(),
                sections[i].bytes.size());
  }
  h.section_count = static_cast<uint32_t>(sections.size());
  h.file_size = out.size();
  PatchHeader(out, h, &table);
  return out;
}

RawSection* FindRaw(std::vector<RawSection>& sections, SectionId id) {
  for (RawSection& s : sections) {
    if (s.id == static_cast<uint32_t>(id)) return &s;
  }
  return nullptr;
}

template <typename T>
void Put(std::string& bytes, size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <typename T>
T Get(const std::string& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

// Asserts that `model` holds exactly `m`.
void ExpectModelEquals(const Model& model, const TestModel& m) {
  const size_t n = m.ids.size();
  ASSERT_EQ(model.num_items(), n);
  ASSERT_EQ(model.kind(), ModelKind::kDense);
  ASSERT_EQ(model.dtype(), DType::kFloat32);
  ASSERT_EQ(model.rank(), 0u);
  ASSERT_GE(model.row_stride(), n);
  ASSERT_EQ(model.row_stride() % kRowAlignmentFloats, 0u);
  for (size_t i = 0; i < n; ++i) {
    const float* row = model.dense_row(i);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(row) % 64, 0u) << "row " << i;
    ASSERT_EQ(std::memcmp(row, &m.b[i * n], n * sizeof(float)), 0)
        << "row " << i;
    for (size_t c = n; c < model.row_stride(); ++c) {
      ASSERT_EQ(row[c], 0.0f) << "padding of row " << i;
    }
    ASSERT_EQ(model.item_id(i), m.ids[i]);
    ASSERT_EQ(model.FindItem(m.ids[i]), std::optional<uint32_t>(i));
  }
  EXPECT_THAT(model.popularity(), ElementsAreArray(m.popularity));
  EXPECT_EQ(model.metadata(), m.metadata);
}

bool IsRejection(const absl::Status& s) {
  return absl::IsDataLoss(s) || absl::IsInvalidArgument(s);
}

// ---------------------------------------------------------------------------
// MappedFile.

TEST(MappedFileTest, MissingFileIsNotFound) {
  ScratchDir dir;
  auto f = MappedFile::Open(dir.File("nope"));
  ASSERT_TRUE(absl::IsNotFound(f.status())) << f.status();
  EXPECT_THAT(f.status().message(), HasSubstr(dir.File("nope")));
}

TEST(MappedFileTest, DirectoryIsRejected) {
  ScratchDir dir;
  auto f = MappedFile::Open(dir.path().string());
  ASSERT_TRUE(absl::IsInvalidArgument(f.status())) << f.status();
  EXPECT_THAT(f.status().message(), HasSubstr(dir.path().string()));
}

TEST(MappedFileTest, EmptyFileMapsToNull) {
  ScratchDir dir;
  auto f = MappedFile::Open(dir.Write("empty", ""));
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->data(), nullptr);
  EXPECT_EQ(f->size(), 0u);
}

TEST(MappedFileTest, MapsContentsAndMoves) {
  ScratchDir dir;
  const std::string contents = "hello, mapping\n";
  const std::string path = dir.Write("f", contents);
  auto f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), contents.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()),
            contents);
  EXPECT_EQ(f->path(), path);
  f->AdviseWillNeed();

  const uint8_t* data = f->data();
  MappedFile moved(std::move(*f));
  EXPECT_EQ(moved.data(), data);
  EXPECT_EQ(f->data(), nullptr);  // NOLINT(bugprone-use-after-move)
  MappedFile assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), data);
  EXPECT_EQ(assigned.size(), contents.size());
  EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move)
}

TEST(MappedFileTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root bypasses file permissions";
  ScratchDir dir;
  const std::string path = dir.Write("secret", "x");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  auto f = MappedFile::Open(path);
  EXPECT_TRUE(absl::IsPermissionDenied(f.status())) << f.status();
}

// ---------------------------------------------------------------------------
// Round trip.

TEST(ModelFileTest, RoundTripThroughOpenAndFromBytes) {
  ScratchDir dir;
  const TestModel m = RandomModel(37, 1);
  const std::string path = dir.File("model.edlae");
  ASSERT_TRUE(WriteDenseModel(path, m.data()).ok());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"model.edlae"});

  auto opened = Model::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const Model& model = **opened;
  ExpectModelEquals(model, m);
  EXPECT_EQ(model.row_stride(), 48u);
  EXPECT_EQ(model.path(), path);
  EXPECT_EQ(model.format_version(), kFormatVersion);
  EXPECT_EQ(model.file_size(), std::filesystem::file_size(path));
  EXPECT_EQ(model.FindItem("no-such-item"), std::nullopt);
  EXPECT_EQ(model.FindItem(""), std::nullopt);
  EXPECT_EQ(model.GetMetadata("algorithm"),
            std::optional<std::string_view>("edlae"));
  EXPECT_EQ(model.GetMetadata("lambda"),
            std::optional<std::string_view>("500"));
  EXPECT_EQ(model.GetMetadata("missing"), std::nullopt);
  EXPECT_EQ(model.fingerprint().size(), 16u);
  EXPECT_EQ(model.fingerprint().find_first_not_of("0123456789abcdef"),
            std::string::npos);

  // Descending popularity, ties by ascending index, a permutation.
  auto order = model.items_by_popularity();
  ASSERT_EQ(order.size(), m.ids.size());
  std::set<uint32_t> seen(order.begin(), order.end());
  EXPECT_EQ(seen.size(), m.ids.size());
  bool saw_tie = false;
  for (size_t k = 1; k < order.size(); ++k) {
    const float prev = m.popularity[order[k - 1]];
    const float cur = m.popularity[order[k]];
    ASSERT_GE(prev, cur);
    if (prev == cur) {
      saw_tie = true;
      ASSERT_LT(order[k - 1], order[k]);
    }
  }
  EXPECT_TRUE(saw_tie);

  auto from_bytes = Model::FromBytes(ReadFile(path));
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.status();
  ExpectModelEquals(**from_bytes, m);
  EXPECT_EQ((*from_bytes)->path(), "");
  EXPECT_EQ((*from_bytes)->fingerprint(), model.fingerprint());
  EXPECT_THAT((*from_bytes)->items_by_popularity(), ElementsAreArray(order));
}

TEST(ModelFileTest, RowStrideIsRoundedUpToSixteen) {
  for (size_t n : {1, 15, 16, 17, 32, 33}) {
    const TestModel m = RandomModel(n, static_cast<uint32_t>(n));
    auto model = Model::FromBytes(WriteBytes(m));
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_EQ((*model)->row_stride(), (n + 15) / 16 * 16) << n;
    ExpectModelEquals(**model, m);
  }
}

TEST(ModelFileTest, FingerprintIsStableAndContentSensitive) {
  const TestModel m = RandomModel(20, 7);
  const std::string a = WriteBytes(m);
  const std::string b = WriteBytes(m);
  EXPECT_EQ(a, b);  // the writer is deterministic
  auto fa = Model::FromBytes(a);
  auto fb = Model::FromBytes(b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ((*fa)->fingerprint(), (*fb)->fingerprint());

  TestModel changed_b = m;
  changed_b.b[5] = std::nextafter(changed_b.b[5], 100.0f);
  TestModel changed_meta = m;
  changed_meta.metadata[1].second = "501";
  TestModel changed_ids = m;
  std::swap(changed_ids.ids[0], changed_ids.ids[1]);
  std::set<std::string> fingerprints = {(*fa)->fingerprint()};
  for (const TestModel* other : {&changed_b, &changed_meta, &changed_ids}) {
    auto f = Model::FromBytes(WriteBytes(*other));
    ASSERT_TRUE(f.ok()) << f.status();
    fingerprints.insert((*f)->fingerprint());
  }
  EXPECT_EQ(fingerprints.size(), 4u);
}

// Checks the bytes against docs/model-format.md without going through Model.
TEST(ModelFileTest, BytesFollowTheSpecification) {
  const TestModel m = RandomModel(5, 3);
  const std::string bytes = WriteBytes(m);
  const FileHeader h = GetHeader(bytes);
  EXPECT_EQ(std::string(h.magic, 8), "EDLAEMDL");
  EXPECT_EQ(h.format_version, 1u);
  EXPECT_EQ(h.header_size, 128u);
  EXPECT_EQ(h.kind, 1u);
  EXPECT_EQ(h.dtype, 1u);
  EXPECT_EQ(h.num_items, 5u);
  EXPECT_EQ(h.rank, 0u);
  EXPECT_EQ(h.row_stride, 16u);
  EXPECT_EQ(h.file_size, bytes.size());
  EXPECT_EQ(h.flags, 0u);
  for (uint8_t r : h.reserved) EXPECT_EQ(r, 0);
  ASSERT_EQ(h.section_count, 4u);
  const std::vector<SectionEntry> table = GetTable(bytes);
  EXPECT_EQ(h.header_checksum,
            HeaderChecksum(h, bytes.data() + 128, 4 * sizeof(SectionEntry)));

  // Sections in file order, aligned, zero padding between them, file ends
  // at the last section's end.
  uint64_t pos = 128 + 4 * 32;
  std::string pairs;
  for (const SectionEntry& e : table) {
    EXPECT_EQ(e.offset % 64, 0u);
    EXPECT_EQ(e.flags, 0u);
    ASSERT_GE(e.offset, pos);
    ASSERT_LT(e.offset - pos, 64u);
    for (uint64_t p = pos; p < e.offset; ++p) EXPECT_EQ(bytes[p], '\0');
    EXPECT_EQ(e.checksum, XXH3_64bits(bytes.data() + e.offset, e.size));
    pos = e.offset + e.size;
    pairs.append(reinterpret_cast<const char*>(&e.id), 4);
    pairs.append(reinterpret_cast<const char*>(&e.checksum), 8);
  }
  EXPECT_EQ(pos, bytes.size());

  std::map<uint32_t, SectionEntry> by_id;
  for (const SectionEntry& e : table) by_id[e.id] = e;
  ASSERT_EQ(by_id.size(), 4u);
  const SectionEntry ids = by_id[static_cast<uint32_t>(SectionId::kItemIds)];
  std::string all_ids;
  for (const std::string& id : m.ids) all_ids += id;
  ASSERT_EQ(ids.size, 6 * 8 + all_ids.size());
  uint64_t expect_offset = 0;
  for (size_t i = 0; i <= 5; ++i) {
    EXPECT_EQ(Get<uint64_t>(bytes, ids.offset + 8 * i), expect_offset);
    if (i < 5) expect_offset += m.ids[i].size();
  }
  EXPECT_EQ(bytes.substr(ids.offset + 48, all_ids.size()), all_ids);

  const SectionEntry pop = by_id[static_cast<uint32_t>(SectionId::kPopularity)];
  ASSERT_EQ(pop.size, 20u);
  EXPECT_EQ(std::memcmp(bytes.data() + pop.offset, m.popularity.data(), 20), 0);

  const SectionEntry meta = by_id[static_cast<uint32_t>(SectionId::kMetadata)];
  std::string expect_meta;
  auto put_u32 = [&](uint32_t v) {
    expect_meta.append(reinterpret_cast<const char*>(&v), 4);
  };
  put_u32(static_cast<uint32_t>(m.metadata.size()));
  for (const auto& [k, v] : m.metadata) {
    put_u32(static_cast<uint32_t>(k.size()));
    expect_meta += k;
    put_u32(static_cast<uint32_t>(v.size()));
    expect_meta += v;
  }
  EXPECT_EQ(bytes.substr(meta.offset, meta.size), expect_meta);

  const SectionEntry b = by_id[static_cast<uint32_t>(SectionId::kDenseB)];
  ASSERT_EQ(b.size, 5u * 16 * 4);
  for (size_t r = 0; r < 5; ++r) {
    for (size_t c = 0; c < 16; ++c) {
      const float v = Get<float>(bytes, b.offset + (r * 16 + c) * 4);
      EXPECT_EQ(v, c < 5 ? m.b[r * 5 + c] : 0.0f);
    }
  }

  char hex[17];
  std::snprintf(
      hex, sizeof(hex), "%016llx",
      static_cast<unsigned long long>(XXH3_64bits(pairs.data(), pairs.size())));
  auto model = Model::FromBytes(bytes);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->fingerprint(), hex);

  // The test-side assembler reproduces the writer byte for byte.
  EXPECT_EQ(Assemble(h, Disassemble(bytes)), bytes);
}

// ---------------------------------------------------------------------------
// Writer validation and atomic publish.

TEST(ModelFileTest, WriterRejectsInvalidInput) {
  const TestModel good = RandomModel(4, 2);
  std::vector<std::pair<std::string, TestModel>> cases;
  auto add = [&](std::string name, auto mutate) {
    TestModel m = good;
    mutate(m);
    cases.emplace_back(std::move(name), std::move(m));
  };
  add("no items", [](TestModel& m) {
    m.b.clear();
    m.ids.clear();
    m.popularity.clear();
  });
  add("b too short", [](TestModel& m) { m.b.pop_back(); });
  add("b too long", [](TestModel& m) { m.b.push_back(0); });
  add("popularity size", [](TestModel& m) { m.popularity.pop_back(); });
  add("ids size", [](TestModel& m) { m.ids.push_back("extra"); });
  add("empty id", [](TestModel& m) { m.ids[2] = ""; });
  add("duplicate id", [](TestModel& m) { m.ids[3] = m.ids[0]; });
  add("non-utf8 id", [](TestModel& m) { m.ids[1] = "bad\xff"; });
  add("nan in b", [](TestModel& m) { m.b[7] = std::nanf(""); });
  add("inf in b",
      [](TestModel& m) { m.b[15] = -std::numeric_limits<float>::infinity(); });
  add("negative popularity", [](TestModel& m) { m.popularity[0] = -1; });
  add("nan popularity", [](TestModel& m) { m.popularity[1] = std::nanf(""); });
  add("empty metadata key", [](TestModel& m) {
    m.metadata.push_back({"", "v"});
  });
  add("non-utf8 metadata value", [](TestModel& m) {
    m.metadata.push_back({"k", "\xed\xa0\x80"});
  });
  add("duplicate metadata key", [](TestModel& m) {
    m.metadata.push_back({"lambda", "1"});
  });

  ScratchDir dir;
  for (const auto& [name, m] : cases) {
    absl::Status s = WriteDenseModel(dir.File("m.edlae"), m.data());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << name << ": " << s;
    EXPECT_TRUE(ListDir(dir.path()).empty()) << name;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      WriteDenseModel(dir.path().string() + "/", good.data())));
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(ModelFileTest, FailedWritesLeaveDestinationIntactAndNoTempFiles) {
  ScratchDir dir;
  const TestModel good = RandomModel(10, 4);
  const std::string dest = dir.File("model.edlae");
  ASSERT_TRUE(WriteDenseModel(dest, good.data()).ok());
  const std::string original = ReadFile(dest);

  // Invalid input.
  TestModel bad = RandomModel(10, 5);
  bad.b[3] = std::nanf("");
  EXPECT_TRUE(absl::IsInvalidArgument(WriteDenseModel(dest, bad.data())));
  EXPECT_EQ(ReadFile(dest), original);

  // Missing directory.
  absl::Status s = WriteDenseModel(dir.File("missing/m.edlae"), good.data());
  EXPECT_TRUE(absl::IsNotFound(s)) << s;

  // The rename fails (destination is a non-empty directory) after the whole
  // temp file was written.
  std::filesystem::create_directories(dir.path() / "taken" / "child");
  s = WriteDenseModel(dir.File("taken"), good.data());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() / "taken" / "child"));

  // A write fails midway (file size limit → EFBIG); works even as root.
  {
    const TestModel big = RandomModel(64, 6);  // ~20 KB
    struct rlimit old_limit;
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    s = WriteDenseModel(dest, big.data());
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_FALSE(s.ok());
    // The error names the path the caller gave, never the temporary file.
    EXPECT_THAT(s.message(), HasSubstr("cannot write " + dest));
    EXPECT_THAT(s.message(), ::testing::Not(HasSubstr(".tmp.")));
    EXPECT_EQ(ReadFile(dest), original);
  }

  // An unwritable directory (meaningful only without root's override).
  if (::geteuid() != 0) {
    std::filesystem::create_directories(dir.path() / "ro");
    const std::string ro_dest = dir.File("ro/m.edlae");
    ASSERT_TRUE(WriteDenseModel(ro_dest, good.data()).ok());
    ASSERT_EQ(::chmod(dir.File("ro").c_str(), 0555), 0);
    s = WriteDenseModel(ro_dest, bad.data());
    EXPECT_FALSE(s.ok());
    s = WriteDenseModel(ro_dest, RandomModel(10, 9).data());
    EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
    EXPECT_EQ(ReadFile(ro_dest), original);
    ::chmod(dir.File("ro").c_str(), 0755);
    std::filesystem::remove_all(dir.path() / "ro");
  }

  EXPECT_EQ(ListDir(dir.path()),
            (std::vector<std::string>{"model.edlae", "taken"}));
  EXPECT_EQ(ListDir(dir.path() / "taken"), std::vector<std::string>{"child"});
  auto model = Model::Open(dest);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectModelEquals(**model, good);
}

TEST(ModelFileTest, ReplacingAFileKeepsOpenModelsValid) {
  ScratchDir dir;
  const std::string path = dir.File("model.edlae");
  const TestModel a = RandomModel(12, 10);
  const TestModel b = RandomModel(9, 11);
  ASSERT_TRUE(WriteDenseModel(path, a.data()).ok());
  auto old_model = Model::Open(path);
  ASSERT_TRUE(old_model.ok());
  ASSERT_TRUE(WriteDenseModel(path, b.data()).ok());
  auto new_model = Model::Open(path);
  ASSERT_TRUE(new_model.ok());
  ExpectModelEquals(**new_model, b);
  ExpectModelEquals(**old_model, a);  // the old mapping still reads `a`
  EXPECT_NE((*old_model)->fingerprint(), (*new_model)->fingerprint());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"model.edlae"});
}

TEST(ModelFileTest, OpenReportsFileErrors) {
  ScratchDir dir;
  auto missing = Model::Open(dir.File("missing.edlae"));
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  auto directory = Model::Open(dir.path().string());
  EXPECT_TRUE(absl::IsInvalidArgument(directory.status()))
      << directory.status();
  auto empty = Model::Open(dir.Write("empty.edlae", ""));
  EXPECT_TRUE(absl::IsDataLoss(empty.status())) << empty.status();
  EXPECT_THAT(empty.status().message(), HasSubstr("empty.edlae"));
  EXPECT_THAT(empty.status().message(), HasSubstr("truncated"));
}

// ---------------------------------------------------------------------------
// Corruption: truncation, byte flips, crafted headers and sections.

TEST(ModelFileTest, TruncationAtEveryOffsetIsRejected) {
  const std::string bytes = WriteBytes(RandomModel(3, 12));
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto model = Model::FromBytes(std::string_view(bytes).substr(0, len));
    ASSERT_TRUE(absl::IsDataLoss(model.status()))
        << "length " << len << ": " << model.status();
  }
  // A truncated file on disk names the path.
  ScratchDir dir;
  auto model =
      Model::Open(dir.Write("t.edlae", bytes.substr(0, bytes.size() - 1)));
  EXPECT_TRUE(absl::IsDataLoss(model.status()));
  EXPECT_THAT(model.status().message(), HasSubstr("t.edlae"));
  EXPECT_THAT(model.status().message(), HasSubstr("truncated"));
}

TEST(ModelFileTest, TruncationOfALargerModelIsRejected) {
  const std::string bytes = WriteBytes(RandomModel(200, 13));
  std::mt19937 rng(13);
  std::vector<size_t> lengths = {0, 127, 128, 255, 256, bytes.size() - 1};
  for (int i = 0; i < 150; ++i) lengths.push_back(rng() % bytes.size());
  for (size_t len : lengths) {
    auto model = Model::FromBytes(std::string_view(bytes).substr(0, len));
    ASSERT_TRUE(absl::IsDataLoss(model.status()))
        << "length " << len << ": " << model.status();
  }
}

TEST(ModelFileTest, TrailingBytesAreRejected) {
  std::string bytes = WriteBytes(RandomModel(3, 14));
  bytes.push_back('\0');
  auto model = Model::FromBytes(bytes);
  EXPECT_TRUE(absl::IsDataLoss(model.status()));
  EXPECT_THAT(model.status().message(), HasSubstr("trailing bytes"));
}

TEST(ModelFileTest, SingleByteFlipsAreDetectedUnlessInPadding) {
  const TestModel m = RandomModel(3, 15);
  const std::string bytes = WriteBytes(m);
  // Bytes covered by the header, the table or a section.
  std::vector<bool> covered(bytes.size(), false);
  const uint64_t table_end = 128 + GetHeader(bytes).section_count * 32;
  for (uint64_t i = 0; i < table_end; ++i) covered[i] = true;
  for (const SectionEntry& e : GetTable(bytes)) {
    for (uint64_t i = e.offset; i < e.offset + e.size; ++i) covered[i] = true;
  }
  int accepted = 0;
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::string mutated = bytes;
      mutated[pos] = static_cast<char>(mutated[pos] ^ mask);
      auto model = Model::FromBytes(mutated);
      if (model.ok()) {
        ++accepted;
        ASSERT_FALSE(covered[pos]) << "flip at covered byte " << pos;
        ExpectModelEquals(**model, m);
      } else {
        ASSERT_TRUE(IsRejection(model.status()))
            << "byte " << pos << ": " << model.status();
      }
    }
  }
  EXPECT_GT(accepted, 0);  // the tiny model does have padding
}

TEST(ModelFileTest, RandomCorruptionNeverCrashes) {
  const std::string bytes = WriteBytes(RandomModel(6, 16));
  uint64_t b_offset = 0;
  for (const SectionEntry& e : GetTable(bytes)) {
    if (e.id == static_cast<uint32_t>(SectionId::kDenseB)) b_offset = e.offset;
  }
  ASSERT_GT(b_offset, 0u);
  std::mt19937 rng(16);
  int accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string mutated = bytes;
    const int changes = 1 + rng() % 8;
    for (int k = 0; k < changes; ++k) {
      // Mostly the header, table and small sections, where parsing happens.
      const size_t range = rng() % 4 == 0 ? mutated.size() : b_offset;
      mutated[rng() % range] = static_cast<char>(rng());
    }
    // Re-sign nothing, the header, or everything, so every check is reached.
    if (trial % 3 == 1) PatchHeader(mutated, GetHeader(mutated));
    if (trial % 3 == 2) testing::ResignAll(mutated);
    auto model = Model::FromBytes(mutated);
    if (!model.ok()) {
      ASSERT_TRUE(IsRejection(model.status())) << model.status();
      continue;
    }
    // Accepted: everything reachable through the API must be in bounds
    // (the sanitizer build checks the reads).
    ++accepted;
    const Model& m = **model;
    float sum = 0;
    for (size_t i = 0; i < m.num_items(); ++i) {
      ASSERT_EQ(m.FindItem(m.item_id(i)), std::optional<uint32_t>(i));
      sum += m.dense_row(i)[m.row_stride() - 1] + m.popularity()[i];
    }
    volatile float sink = sum;  // keeps the reads
    (void)sink;
    for (const auto& [k, v] : m.metadata()) EXPECT_EQ(m.GetMetadata(k), v);
  }
  EXPECT_GT(accepted, 0);
}

TEST(ModelFileTest, WrongMagicIsDataLoss) {
  std::string bytes = WriteBytes(RandomModel(3, 17));
  bytes[0] = 'X';
  auto model = Model::FromBytes(bytes);
  EXPECT_TRUE(absl::IsDataLoss(model.status())) << model.status();
  EXPECT_THAT(model.status().message(), HasSubstr("magic"));
}

TEST(ModelFileTest, UnsupportedVersionKindAndDtypeAreInvalidArgument) {
  const std::string bytes = WriteBytes(RandomModel(3, 18));
  {
    std::string b = bytes;
    FileHeader h = GetHeader(b);
    h.format_version = 2;
    PatchHeader(b, h);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsInvalidArgument(model.status())) << model.status();
    EXPECT_THAT(model.status().message(),
                HasSubstr("unsupported format version 2"));
    // Even without re-signing: a newer file may checksum differently.
    b = bytes;
    Put<uint32_t>(b, offsetof(FileHeader, format_version), 7);
    EXPECT_THAT(Model::FromBytes(b).status().message(),
                HasSubstr("unsupported format version 7"));
  }
  {
    // A dense file relabelled low-rank: rank 0 and no U/V sections.
    std::string b = bytes;
    FileHeader h = GetHeader(b);
    h.kind = static_cast<uint32_t>(ModelKind::kLowRank);
    PatchHeader(b, h);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status())) << model.status();
    EXPECT_THAT(model.status().message(), HasSubstr("rank 0"));
    h.rank = 3;
    PatchHeader(b, h);
    model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status())) << model.status();
    EXPECT_THAT(model.status().message(), HasSubstr("missing section 2 (U)"));
  }
  for (uint32_t kind : {0u, 4u}) {  // 3 is kSparse
    std::string b = bytes;
    FileHeader h = GetHeader(b);
    h.kind = kind;
    PatchHeader(b, h);
    EXPECT_TRUE(absl::IsInvalidArgument(Model::FromBytes(b).status()));
  }
  for (uint32_t dtype : {0u, 5u, 0xFFFFFFFFu}) {
    std::string b = bytes;
    FileHeader h = GetHeader(b);
    h.dtype = dtype;
    PatchHeader(b, h);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsInvalidArgument(model.status())) << model.status();
    EXPECT_THAT(model.status().message(), HasSubstr("unsupported dtype"));
  }
  // A float32 file relabelled as halves or int8: its 16-float rows are no
  // multiple of 32 halves (64 int8), and its sections are larger than those
  // types would take (int8 also lacks its row scales).
  for (DType dtype : {DType::kFloat16, DType::kBFloat16, DType::kInt8}) {
    std::string b = bytes;
    FileHeader h = GetHeader(b);
    h.dtype = static_cast<uint32_t>(dtype);
    PatchHeader(b, h);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status())) << model.status();
    h.row_stride = 32;
    PatchHeader(b, h);
    model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status())) << model.status();
  }
  {
    std::string b = bytes;
    FileHeader h = GetHeader(b);
    h.flags = 1;
    PatchHeader(b, h);
    EXPECT_TRUE(absl::IsInvalidArgument(Model::FromBytes(b).status()));
  }
}

// Header and table values chosen so that unchecked arithmetic would wrap;
// the header checksum is recomputed so the size checks themselves run.
TEST(ModelFileTest, OverflowingSizesInHeaderAndTableAreDataLoss) {
  const std::string bytes = WriteBytes(RandomModel(3, 19));
  const FileHeader good = GetHeader(bytes);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::vector<std::pair<std::string, FileHeader>> headers;
  auto add = [&](std::string name, auto mutate) {
    FileHeader h = good;
    mutate(h);
    headers.emplace_back(std::move(name), h);
  };
  add("n and stride 2^62", [](FileHeader& h) {
    h.num_items = uint64_t{1} << 62;
    h.row_stride = uint64_t{1} << 62;
  });
  add("n*stride*4 wraps to 0", [](FileHeader& h) {
    h.num_items = uint64_t{1} << 31;
    h.row_stride = uint64_t{1} << 32;  // n*stride = 2^63, *4 wraps to 0
  });
  add("n 2^32", [](FileHeader& h) {
    h.num_items = uint64_t{1} << 32;
    h.row_stride = uint64_t{1} << 32;
  });
  add("stride max multiple of 16",
      [](FileHeader& h) { h.row_stride = kMax - 15; });
  add("stride 2^62", [](FileHeader& h) { h.row_stride = uint64_t{1} << 62; });
  add("stride < n", [](FileHeader& h) { h.num_items = 17; });
  add("stride not multiple of 16", [](FileHeader& h) { h.row_stride = 8; });
  add("n 0", [](FileHeader& h) { h.num_items = 0; });
  add("n max", [](FileHeader& h) { h.num_items = kMax; });
  add("rank", [](FileHeader& h) { h.rank = 4; });
  add("file_size max", [](FileHeader& h) { h.file_size = kMax; });
  add("file_size small", [](FileHeader& h) { h.file_size = 128; });
  add("section_count max",
      [](FileHeader& h) { h.section_count = 0xFFFFFFFFu; });
  add("section_count 65",
      [](FileHeader& h) { h.section_count = kMaxSections + 1; });
  add("section_count 0", [](FileHeader& h) { h.section_count = 0; });
  add("header_size", [](FileHeader& h) { h.header_size = 64; });
  for (const auto& [name, h] : headers) {
    std::string b = bytes;
    PatchHeader(b, h);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status()))
        << name << ": " << model.status();
  }

  const std::vector<SectionEntry> table = GetTable(bytes);
  std::vector<std::pair<std::string, std::vector<SectionEntry>>> tables;
  auto add_table = [&](std::string name, auto mutate) {
    std::vector<SectionEntry> t = table;
    mutate(t);
    tables.emplace_back(std::move(name), t);
  };
  add_table("offset near max", [&](auto& t) { t[0].offset = kMax - 63; });
  add_table("size max", [&](auto& t) { t[1].size = kMax; });
  add_table("offset+size wraps", [&](auto& t) {
    t[2].offset = uint64_t{1} << 63;
    t[2].size = uint64_t{1} << 63;
  });
  add_table("size one past end",
            [&](auto& t) { t[3].size = bytes.size() - t[3].offset + 1; });
  add_table("misaligned", [&](auto& t) { t[1].offset += 8; });
  add_table("inside the table", [&](auto& t) { t[0].offset = 128; });
  add_table("overlap", [&](auto& t) { t[1].offset = t[0].offset; });
  add_table("duplicate id", [&](auto& t) { t[1].id = t[0].id; });
  add_table("missing B", [&](auto& t) {
    for (auto& e : t) {
      if (e.id == static_cast<uint32_t>(SectionId::kDenseB)) e.id = 77;
    }
  });
  add_table("B one row short", [&](auto& t) {
    for (auto& e : t) {
      if (e.id == static_cast<uint32_t>(SectionId::kDenseB)) e.size -= 64;
    }
  });
  add_table("popularity short", [&](auto& t) {
    for (auto& e : t) {
      if (e.id == static_cast<uint32_t>(SectionId::kPopularity)) e.size -= 4;
    }
  });
  add_table("ids too small for offsets", [&](auto& t) {
    for (auto& e : t) {
      if (e.id == static_cast<uint32_t>(SectionId::kItemIds)) e.size = 16;
    }
  });
  add_table("checksum", [&](auto& t) { t[2].checksum ^= 1; });
  for (const auto& [name, t] : tables) {
    std::string b = bytes;
    PatchHeader(b, good, &t);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status()))
        << name << ": " << model.status();
  }
}

// Section contents crafted with correct checksums, so only the content
// checks can catch them.
TEST(ModelFileTest, CraftedSectionContentsAreDataLoss) {
  const std::string bytes = WriteBytes(RandomModel(3, 20));
  const FileHeader h = GetHeader(bytes);
  const std::vector<RawSection> raw = Disassemble(bytes);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

  std::vector<std::pair<std::string, std::vector<RawSection>>> cases;
  auto add = [&](std::string name, SectionId id, auto mutate) {
    std::vector<RawSection> s = raw;
    mutate(FindRaw(s, id)->bytes);
    cases.emplace_back(std::move(name), std::move(s));
  };
  add("offsets[0] != 0", SectionId::kItemIds,
      [](std::string& b) { Put<uint64_t>(b, 0, 1); });
  add("offset huge", SectionId::kItemIds,
      [&](std::string& b) { Put<uint64_t>(b, 8, kMax); });
  add("offset wraps", SectionId::kItemIds, [&](std::string& b) {
    Put<uint64_t>(b, 8, kMax - 2);
    Put<uint64_t>(b, 16, 3);
  });
  add("offsets decrease", SectionId::kItemIds,
      [](std::string& b) { Put<uint64_t>(b, 16, Get<uint64_t>(b, 8) - 1); });
  add("empty id", SectionId::kItemIds,
      [](std::string& b) { Put<uint64_t>(b, 8, 0); });
  add("last offset != byte length", SectionId::kItemIds,
      [](std::string& b) { b.push_back('z'); });
  add("non-utf8 id", SectionId::kItemIds,
      [](std::string& b) { b[4 * 8] = static_cast<char>(0xC0); });
  add("negative popularity", SectionId::kPopularity,
      [](std::string& b) { Put<float>(b, 4, -1.0f); });
  add("nan popularity", SectionId::kPopularity,
      [](std::string& b) { Put<float>(b, 0, std::nanf("")); });
  add("inf popularity", SectionId::kPopularity, [](std::string& b) {
    Put<float>(b, 8, std::numeric_limits<float>::infinity());
  });
  add("nan in B", SectionId::kDenseB,
      [](std::string& b) { Put<float>(b, 4 * (16 + 2), std::nanf("")); });
  add("non-zero B padding", SectionId::kDenseB,
      [](std::string& b) { Put<float>(b, 4 * (32 + 5), 1.0f); });
  add("metadata count huge", SectionId::kMetadata,
      [](std::string& b) { Put<uint32_t>(b, 0, 0xFFFFFFFFu); });
  add("metadata count short", SectionId::kMetadata,
      [](std::string& b) { Put<uint32_t>(b, 0, Get<uint32_t>(b, 0) - 1); });
  add("metadata key length huge", SectionId::kMetadata,
      [](std::string& b) { Put<uint32_t>(b, 4, 0xFFFFFFFFu); });
  add("metadata key empty", SectionId::kMetadata, [](std::string& b) {
    // First key is "algorithm" (9 bytes): make it empty and its bytes part of
    // a longer value is not possible, so cut the entry to an empty key.
    const uint32_t klen = Get<uint32_t>(b, 4);
    b.erase(8, klen);
    Put<uint32_t>(b, 4, 0);
  });
  add("metadata duplicate key", SectionId::kMetadata, [](std::string& b) {
    std::string entry = b.substr(4);  // all entries again
    const uint32_t count = Get<uint32_t>(b, 0);
    b += entry;
    Put<uint32_t>(b, 0, 2 * count);
  });
  add("metadata non-utf8 key", SectionId::kMetadata, [](std::string& b) {
    b[8] = static_cast<char>(0x80);  // first byte of the first key
  });
  add("metadata truncated", SectionId::kMetadata,
      [](std::string& b) { b.pop_back(); });
  add("metadata empty", SectionId::kMetadata,
      [](std::string& b) { b.clear(); });
  {
    std::vector<RawSection> s = raw;
    s.erase(s.begin() + 2);
    cases.emplace_back("section missing", std::move(s));
  }
  {
    std::vector<RawSection> s = raw;
    s.push_back(s[0]);
    cases.emplace_back("section repeated", std::move(s));
  }
  for (const auto& [name, sections] : cases) {
    auto model = Model::FromBytes(Assemble(h, sections));
    EXPECT_TRUE(absl::IsDataLoss(model.status()))
        << name << ": " << model.status();
  }
}

TEST(ModelFileTest, DuplicateItemIdsInAFileAreDataLoss) {
  TestModel m = RandomModel(4, 21);
  m.ids = {"apple", "pear", "plum", "fig"};
  const std::string bytes = WriteBytes(m);
  std::vector<RawSection> raw = Disassemble(bytes);
  std::string& ids = FindRaw(raw, SectionId::kItemIds)->bytes;
  const size_t base = 5 * 8;
  ASSERT_EQ(ids.substr(base), "applepearplumfig");
  ids.replace(base + 9, 4, "pear");  // plum → pear
  ScratchDir dir;
  const std::string path =
      dir.Write("dup.edlae", Assemble(GetHeader(bytes), raw));
  auto model = Model::Open(path);
  ASSERT_TRUE(absl::IsDataLoss(model.status())) << model.status();
  EXPECT_THAT(model.status().message(),
              HasSubstr("duplicate item id \"pear\""));
  EXPECT_THAT(model.status().message(), HasSubstr(path));
}

TEST(ModelFileTest, UnknownSectionsAreChecksummedButIgnored) {
  const TestModel m = RandomModel(5, 22);
  const std::string bytes = WriteBytes(m);
  std::vector<RawSection> raw = Disassemble(bytes);
  raw.insert(raw.begin() + 1, RawSection{1000, "future data", 3});
  raw.push_back(RawSection{static_cast<uint32_t>(SectionId::kFactorU), "", 0});
  const std::string extended = Assemble(GetHeader(bytes), raw);
  auto model = Model::FromBytes(extended);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectModelEquals(**model, m);
  auto original = Model::FromBytes(bytes);
  ASSERT_TRUE(original.ok());
  EXPECT_NE((*model)->fingerprint(), (*original)->fingerprint());

  // The unknown section is still checksummed.
  std::string corrupted = extended;
  const SectionEntry unknown = GetTable(extended)[1];
  ASSERT_EQ(unknown.id, 1000u);
  corrupted[unknown.offset] ^= 1;
  auto bad = Model::FromBytes(corrupted);
  EXPECT_TRUE(absl::IsDataLoss(bad.status())) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr("checksum"));
}

// ---------------------------------------------------------------------------
// Low-rank models: U and V, n × rank each, rows padded to 16 floats.

struct TestLowRank {
  size_t rank = 0;
  std::vector<float> u, v;
  std::vector<std::string> ids;
  std::vector<float> popularity;
  std::vector<std::pair<std::string, std::string>> metadata;

  LowRankModelData data() const {
    LowRankModelData d;
    d.rank = rank;
    d.u = u;
    d.v = v;
    d.item_ids = ids;
    d.popularity = popularity;
    d.metadata = metadata;
    return d;
  }
};

TestLowRank RandomLowRank(size_t n, size_t rank, uint32_t seed) {
  const TestModel dense = RandomModel(n, seed);
  std::mt19937 rng(seed + 1000);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  TestLowRank m;
  m.rank = rank;
  m.u.resize(n * rank);
  m.v.resize(n * rank);
  for (float& x : m.u) x = normal(rng);
  for (float& x : m.v) x = normal(rng);
  m.ids = dense.ids;
  m.popularity = dense.popularity;
  m.metadata = {{"algorithm", "edlae"},
                {"rank", std::to_string(rank)},
                {"method", "closed-form"}};
  return m;
}

std::string WriteLowRankBytes(const TestLowRank& m) {
  ScratchDir dir;
  const std::string path = dir.File("lr.edlae");
  absl::Status s = WriteLowRankModel(path, m.data());
  EXPECT_TRUE(s.ok()) << s;
  return ReadFile(path);
}

void ExpectLowRankEquals(const Model& model, const TestLowRank& m) {
  const size_t n = m.ids.size();
  ASSERT_EQ(model.kind(), ModelKind::kLowRank);
  ASSERT_EQ(model.num_items(), n);
  ASSERT_EQ(model.rank(), m.rank);
  ASSERT_EQ(model.row_stride(), (m.rank + 15) / 16 * 16);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& [row, want] :
         {std::pair(model.u_row(i), &m.u[i * m.rank]),
          std::pair(model.v_row(i), &m.v[i * m.rank])}) {
      ASSERT_EQ(reinterpret_cast<uintptr_t>(row) % 64, 0u) << "row " << i;
      ASSERT_EQ(std::memcmp(row, want, m.rank * sizeof(float)), 0)
          << "row " << i;
      for (size_t c = m.rank; c < model.row_stride(); ++c) {
        ASSERT_EQ(row[c], 0.0f) << "padding of row " << i;
      }
    }
    ASSERT_EQ(model.item_id(i), m.ids[i]);
  }
  EXPECT_THAT(model.popularity(), ElementsAreArray(m.popularity));
  EXPECT_EQ(model.metadata(), m.metadata);
}

TEST(LowRankModelFileTest, RoundTripThroughOpenAndFromBytes) {
  for (size_t rank : {1u, 5u, 16u, 17u, 40u}) {
    const TestLowRank m = RandomLowRank(23, rank, static_cast<uint32_t>(rank));
    ScratchDir dir;
    const std::string path = dir.File("lr.edlae");
    ASSERT_TRUE(WriteLowRankModel(path, m.data()).ok());
    auto opened = Model::Open(path);
    ASSERT_TRUE(opened.ok()) << opened.status();
    ExpectLowRankEquals(**opened, m);
    EXPECT_EQ((*opened)->GetMetadata("rank"),
              std::optional<std::string_view>(std::to_string(rank)));
    auto from_bytes = Model::FromBytes(ReadFile(path));
    ASSERT_TRUE(from_bytes.ok()) << from_bytes.status();
    ExpectLowRankEquals(**from_bytes, m);
    EXPECT_EQ((*from_bytes)->fingerprint(), (*opened)->fingerprint());
  }
}

TEST(LowRankModelFileTest, LayoutFollowsTheSpecification) {
  const TestLowRank m = RandomLowRank(7, 20, 3);
  const std::string bytes = WriteLowRankBytes(m);
  const FileHeader h = GetHeader(bytes);
  EXPECT_EQ(h.kind, static_cast<uint32_t>(ModelKind::kLowRank));
  EXPECT_EQ(h.rank, 20u);
  EXPECT_EQ(h.row_stride, 32u);
  EXPECT_EQ(h.num_items, 7u);
  EXPECT_EQ(h.section_count, 5u);
  const std::vector<SectionEntry> table = GetTable(bytes);
  // Small sections first, then U and V; the file ends with V.
  ASSERT_EQ(table.size(), 5u);
  EXPECT_EQ(table[3].id, static_cast<uint32_t>(SectionId::kFactorU));
  EXPECT_EQ(table[4].id, static_cast<uint32_t>(SectionId::kFactorV));
  for (const SectionEntry* e : {&table[3], &table[4]}) {
    EXPECT_EQ(e->offset % 64, 0u);
    EXPECT_EQ(e->size, 7u * 32 * 4);
  }
  EXPECT_EQ(table[4].offset + table[4].size, bytes.size());
  // Row 2 of V: 20 weights, then 12 zero floats.
  for (size_t c = 0; c < 32; ++c) {
    const float got = Get<float>(bytes, table[4].offset + (2 * 32 + c) * 4);
    EXPECT_EQ(got, c < 20 ? m.v[2 * 20 + c] : 0.0f) << c;
  }
}

TEST(LowRankModelFileTest, WriterRejectsInvalidInput) {
  ScratchDir dir;
  const std::string path = dir.File("bad.edlae");
  const TestLowRank good = RandomLowRank(6, 4, 5);
  {
    TestLowRank m = good;
    m.rank = 0;
    m.u.clear();
    m.v.clear();
    EXPECT_TRUE(absl::IsInvalidArgument(WriteLowRankModel(path, m.data())));
  }
  {
    TestLowRank m = good;
    m.v.pop_back();
    absl::Status s = WriteLowRankModel(path, m.data());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr("V has 23 floats, want 6 x 4"));
  }
  {
    TestLowRank m = good;
    m.u[9] = std::numeric_limits<float>::infinity();
    absl::Status s = WriteLowRankModel(path, m.data());
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr("U[2, 1] is not finite"));
  }
  {
    TestLowRank m = good;
    m.ids[3] = m.ids[0];
    EXPECT_TRUE(absl::IsInvalidArgument(WriteLowRankModel(path, m.data())));
  }
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(LowRankModelFileTest, TruncationAndByteFlipsAreDetected) {
  const TestLowRank m = RandomLowRank(3, 5, 7);
  const std::string bytes = WriteLowRankBytes(m);
  for (size_t len = 0; len < bytes.size(); ++len) {
    ASSERT_TRUE(absl::IsDataLoss(
        Model::FromBytes(std::string_view(bytes).substr(0, len)).status()))
        << "length " << len;
  }
  std::vector<bool> covered(bytes.size(), false);
  for (uint64_t i = 0; i < 128 + 5 * 32; ++i) covered[i] = true;
  for (const SectionEntry& e : GetTable(bytes)) {
    for (uint64_t i = e.offset; i < e.offset + e.size; ++i) covered[i] = true;
  }
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string mutated = bytes;
    mutated[pos] = static_cast<char>(mutated[pos] ^ 0x40);
    auto model = Model::FromBytes(mutated);
    if (model.ok()) {
      ASSERT_FALSE(covered[pos]) << "flip at covered byte " << pos;
      ExpectLowRankEquals(**model, m);
    } else {
      ASSERT_TRUE(IsRejection(model.status())) << pos << ": " << model.status();
    }
  }
}

TEST(LowRankModelFileTest, CraftedFactorsAreDataLoss) {
  const TestLowRank m = RandomLowRank(4, 3, 9);
  const std::string bytes = WriteLowRankBytes(m);
  const FileHeader h = GetHeader(bytes);
  const std::vector<RawSection> raw = Disassemble(bytes);
  auto expect_rejected = [&](const std::vector<RawSection>& sections,
                             const FileHeader& header, const char* what) {
    auto model = Model::FromBytes(Assemble(header, sections));
    EXPECT_TRUE(absl::IsDataLoss(model.status())) << model.status();
    EXPECT_THAT(model.status().message(), HasSubstr(what));
  };
  {
    std::vector<RawSection> r = raw;  // NaN in V, checksums re-signed
    Put<float>(FindRaw(r, SectionId::kFactorV)->bytes, 16 * 4 + 4,
               std::numeric_limits<float>::quiet_NaN());
    expect_rejected(r, h, "V row 1");
  }
  {
    std::vector<RawSection> r =
        raw;  // non-zero padding in U (float 3 of row 2)
    Put<float>(FindRaw(r, SectionId::kFactorU)->bytes, (2 * 16 + 3) * 4, -0.0f);
    expect_rejected(r, h, "U row 2");
  }
  {
    std::vector<RawSection> r = raw;  // V one row short
    FindRaw(r, SectionId::kFactorV)->bytes.resize(3 * 16 * 4);
    expect_rejected(r, h, "section 3 (V)");
  }
  {
    std::vector<RawSection> r = raw;  // U missing (renamed to B, ignored)
    FindRaw(r, SectionId::kFactorU)->id =
        static_cast<uint32_t>(SectionId::kDenseB);
    expect_rejected(r, h, "missing section 2 (U)");
  }
  {
    FileHeader bad = h;  // stride below the rank
    bad.rank = 17;
    expect_rejected(raw, bad, "row_stride 16");
  }
  {
    FileHeader bad = h;  // a larger stride than stored
    bad.row_stride = 32;
    expect_rejected(raw, bad, "section 2 (U)");
  }
}

// Ranks and strides whose products wrap 64 bits must be refused before any
// section is sized with them.
TEST(LowRankModelFileTest, OverflowingRankIsDataLoss) {
  const std::string bytes = WriteLowRankBytes(RandomLowRank(3, 4, 11));
  const FileHeader good = GetHeader(bytes);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::vector<std::pair<std::string, FileHeader>> headers;
  auto add = [&](std::string name, auto mutate) {
    FileHeader h = good;
    mutate(h);
    headers.emplace_back(std::move(name), h);
  };
  add("rank max", [&](FileHeader& h) { h.rank = kMax; });
  add("rank max, stride max multiple of 16", [&](FileHeader& h) {
    h.rank = kMax - 20;
    h.row_stride = kMax - 15;
  });
  add("n*stride*4 wraps to 0", [](FileHeader& h) {
    h.rank = uint64_t{1} << 61;
    h.row_stride = uint64_t{1} << 62;  // 3 * 2^62 * 4 wraps
  });
  add("stride*4 wraps", [](FileHeader& h) {
    h.rank = uint64_t{1} << 62;
    h.row_stride = uint64_t{1} << 62;  // n*stride fits in 64 bits, *4 wraps
  });
  add("rank 0", [](FileHeader& h) { h.rank = 0; });
  add("stride 0", [](FileHeader& h) { h.row_stride = 0; });
  add("stride 8", [](FileHeader& h) { h.row_stride = 8; });
  for (const auto& [name, h] : headers) {
    std::string b = bytes;
    PatchHeader(b, h);
    auto model = Model::FromBytes(b);
    EXPECT_TRUE(absl::IsDataLoss(model.status()))
        << name << ": " << model.status();
  }
}

TEST(LowRankModelFileTest, DenseSectionsInALowRankFileAreIgnored) {
  // And U/V sections in a dense file: each kind reads only its own weights.
  const TestLowRank m = RandomLowRank(5, 2, 13);
  const std::string bytes = WriteLowRankBytes(m);
  std::vector<RawSection> raw = Disassemble(bytes);
  raw.push_back(
      RawSection{static_cast<uint32_t>(SectionId::kDenseB), "junk", 0});
  auto model = Model::FromBytes(Assemble(GetHeader(bytes), raw));
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectLowRankEquals(**model, m);
}

}  // namespace
}  // namespace edlae
