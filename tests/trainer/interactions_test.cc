// LoadInteractions: formats, ordering, filters, errors, auto, quoting, lists, real datasets.
#include "trainer/interactions.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Row u as item id strings, in CSR (index) order.
std::vector<std::string> RowIds(const Interactions& x, size_t u) {
  std::vector<std::string> ids;
  for (uint64_t k = x.row_offsets[u]; k < x.row_offsets[u + 1]; ++k) {
    ids.push_back(x.item_ids[x.item_indices[k]]);
  }
  return ids;
}

// The CSR invariants every successful load must satisfy.
void ExpectWellFormed(const Interactions& x) {
  ASSERT_EQ(x.row_offsets.size(), x.num_users() + 1);
  EXPECT_EQ(x.row_offsets.front(), 0u);
  EXPECT_EQ(x.row_offsets.back(), x.num_interactions());
  std::vector<size_t> item_users(x.num_items(), 0);
  for (size_t u = 0; u < x.num_users(); ++u) {
    ASSERT_LT(x.row_offsets[u], x.row_offsets[u + 1]) << "empty row " << u;
    for (uint64_t k = x.row_offsets[u]; k < x.row_offsets[u + 1]; ++k) {
      ASSERT_LT(x.item_indices[k], x.num_items());
      if (k > x.row_offsets[u]) {
        ASSERT_LT(x.item_indices[k - 1], x.item_indices[k]);
      }
      ++item_users[x.item_indices[k]];
    }
  }
  for (size_t i = 0; i < x.num_items(); ++i) {
    EXPECT_GT(item_users[i], 0u) << "item without users: " << x.item_ids[i];
  }
  EXPECT_EQ(
      absl::flat_hash_set<std::string>(x.user_ids.begin(), x.user_ids.end())
          .size(),
      x.num_users());
  EXPECT_EQ(
      absl::flat_hash_set<std::string>(x.item_ids.begin(), x.item_ids.end())
          .size(),
      x.num_items());
}

LoadOptions Format(InputFormat format) {
  LoadOptions options;
  options.format = format;
  return options;
}

TEST(InteractionsParseFormatTest, KnownNames) {
  char delimiter = 'x';
  EXPECT_EQ(*ParseInputFormat("auto", &delimiter), InputFormat::kAuto);
  EXPECT_EQ(*ParseInputFormat("movielens-csv", &delimiter),
            InputFormat::kMovieLensCsv);
  EXPECT_EQ(*ParseInputFormat("movielens-dat", &delimiter),
            InputFormat::kMovieLensDat);
  EXPECT_EQ(*ParseInputFormat("lines", &delimiter), InputFormat::kUserLines);
  EXPECT_EQ(*ParseInputFormat("count-lines", &delimiter),
            InputFormat::kCountLines);
  EXPECT_EQ(delimiter, 'x');  // Only csv/tsv touch the delimiter.
  EXPECT_EQ(*ParseInputFormat("csv", &delimiter), InputFormat::kDelimited);
  EXPECT_EQ(delimiter, ',');
  EXPECT_EQ(*ParseInputFormat("tsv", &delimiter), InputFormat::kDelimited);
  EXPECT_EQ(delimiter, '\t');
}

TEST(InteractionsParseFormatTest, UnknownNameListsValidOnes) {
  char delimiter = ',';
  absl::StatusOr<InputFormat> f = ParseInputFormat("parquet", &delimiter);
  ASSERT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(f.status().message(), HasSubstr("parquet"));
  for (const char* name : {"auto", "movielens-csv", "movielens-dat", "csv",
                           "tsv", "lines", "count-lines"}) {
    EXPECT_THAT(f.status().message(), HasSubstr(name));
  }
}

TEST(InteractionsTest, MovieLensCsvWithStringIdsCrlfAndFirstAppearanceOrder) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("ratings.csv",
                "userId,movieId,rating,timestamp\r\n"
                "bob,m-z,4.0,100\r\n"
                "bob,m-a,3.0,101\r\n"
                " alice , m-q ,5.0,102\r\n"  // Fields are trimmed.
                "\r\n"                       // Blank lines are skipped.
                "alice,m-a,1.0,103\r\n"
                "bob,m-q,2.5,104\r\n"
                "bob,m-z,5.0,105\r\n");  // Duplicate pair collapses.
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kMovieLensCsv));
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_THAT(x->user_ids, ElementsAre("bob", "alice"));
  EXPECT_THAT(x->item_ids, ElementsAre("m-z", "m-a", "m-q"));
  EXPECT_THAT(x->row_offsets, ElementsAre(0, 3, 5));
  EXPECT_THAT(x->item_indices, ElementsAre(0, 1, 2, 1, 2));  // Rows sorted.
  EXPECT_THAT(RowIds(*x, 1), ElementsAre("m-a", "m-q"));
}

TEST(InteractionsTest, MovieLensCsvWithoutHeaderKeepsFirstRow) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("r.csv", "1,10,4.0,5\n2,10,3.0,6");  // No final newline.
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kMovieLensCsv));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("1", "2"));
  EXPECT_EQ(x->num_interactions(), 2u);
}

TEST(InteractionsTest, MinRatingIsStrict) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("ratings.csv",
                "userId,movieId,rating,timestamp\n"
                "u1,a,3.5,1\n"  // == threshold: dropped
                "u1,b,4.0,1\n"
                "u2,a,3.0,1\n"  // u2 has nothing left: dropped
                "u3,c,3.6,1\n"
                "u3,a,0.5,1\n");
  LoadOptions options = Format(InputFormat::kMovieLensCsv);
  options.min_rating = 3.5;
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_THAT(x->user_ids, ElementsAre("u1", "u3"));
  EXPECT_THAT(x->item_ids, ElementsAre("b", "c"));  // "a" never passes.
  EXPECT_EQ(x->num_interactions(), 2u);

  options.min_rating = 5.0;
  EXPECT_EQ(LoadInteractions(path, options).status().code(),
            absl::StatusCode::kInvalidArgument);  // Nothing left.
}

TEST(InteractionsTest, RatingSyntax) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("r.csv",
                "u,keep-long,3.50000000000001\n"  // 15 digits, just above 3.5
                "u,drop-17-digits,3.5000000000000001\n"  // rounds to 3.5
                "u,keep-exp,1e1\n"
                "u,keep-plus,+4.\n"
                "u,drop-neg,-4\n"
                "u,drop-tie,3.50\n"
                "u,drop-frac,.5\n");
  LoadOptions options = Format(InputFormat::kDelimited);
  options.rating_column = 2;
  options.min_rating = 3.5;
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("keep-long", "keep-exp", "keep-plus"));

  for (const char* bad : {"inf", "-inf", "4.0.1", "1e999", "4,5", "."}) {
    const std::string p =
        dir.Write("bad.tsv", absl::StrCat("u\ti\t", bad, "\n"));
    options.delimiter = '\t';
    absl::Status s = LoadInteractions(p, options).status();
    EXPECT_THAT(s.message(), HasSubstr("bad.tsv:1: invalid rating")) << bad;
  }
}

TEST(InteractionsTest, MovieLensDatDoubleColonAndTab) {
  testing::ScratchDir dir;
  const std::string dat =
      dir.Write("ratings.dat",
                "1::1193::5::978300760\n1::661::3::978302109\n"
                "2::1193::4::978298413\n");
  absl::StatusOr<Interactions> x =
      LoadInteractions(dat, Format(InputFormat::kMovieLensDat));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("1", "2"));
  EXPECT_THAT(x->item_ids, ElementsAre("1193", "661"));
  EXPECT_THAT(x->row_offsets, ElementsAre(0, 2, 3));

  const std::string tab =
      dir.Write("u.data",
                "196\t242\t3\t881250949\r\n186\t302\t3\t891717742\r\n"
                "196\t302\t1\t881250950\r\n");
  LoadOptions options = Format(InputFormat::kMovieLensDat);
  options.min_rating = 2;
  x = LoadInteractions(tab, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("196", "186"));
  EXPECT_THAT(x->item_ids, ElementsAre("242", "302"));
  EXPECT_THAT(x->item_indices, ElementsAre(0, 1));

  const std::string neither = dir.Write("x.dat", "1,2,3,4\n");
  absl::Status s =
      LoadInteractions(neither, Format(InputFormat::kMovieLensDat)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("x.dat:1:"));
}

TEST(InteractionsTest, DelimitedWithColumnSelectionAndHeader) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("events.tsv",
                "time\titem\tscore\tuser\textra\n"
                "1\tI1\t0.9\tU1\tx\n"
                "2\tI2\t0.1\tU1\tx\n"
                "3\tI1\t0.7\tU2\n");  // Trailing columns beyond the ones used
                                      // are optional.
  LoadOptions options = Format(InputFormat::kDelimited);
  options.delimiter = '\t';
  options.user_column = 3;
  options.item_column = 1;
  options.rating_column = 2;
  options.has_header = true;
  options.min_rating = 0.5;
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("U1", "U2"));
  EXPECT_THAT(x->item_ids, ElementsAre("I1"));
  EXPECT_EQ(x->num_interactions(), 2u);

  // Without a rating column min_rating is ignored and every row counts.
  options.rating_column = -1;
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->num_interactions(), 3u);

  // Without has_header the header becomes data: the "score" rating fails.
  options.rating_column = 2;
  options.has_header = false;
  absl::Status s = LoadInteractions(path, options).status();
  EXPECT_THAT(s.message(), HasSubstr("events.tsv:1: invalid rating 'score'"));
}

TEST(InteractionsTest, DelimitedRejectsBadColumns) {
  testing::ScratchDir dir;
  const std::string path = dir.Write("a.csv", "1,2\n");
  LoadOptions options = Format(InputFormat::kDelimited);
  options.item_column = 0;  // Same as the user column.
  EXPECT_EQ(LoadInteractions(path, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.item_column = -2;
  EXPECT_EQ(LoadInteractions(path, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Options are checked before the file is touched.
  EXPECT_EQ(LoadInteractions(dir.File("missing.csv"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Format(InputFormat::kDelimited);
  options.min_rating = std::nan("");
  EXPECT_EQ(LoadInteractions(path, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InteractionsTest, UserLinesWhitespaceDuplicatesAndSorting) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("train.txt",
                "u7 c a  b\ta a\r\n"  // Duplicates collapse, mixed whitespace.
                "\n"
                "  u9   b\n"
                "u8\n"      // A user without items is dropped.
                "u7 d\n");  // A repeated user merges.
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kUserLines));
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_THAT(x->user_ids, ElementsAre("u7", "u9"));
  EXPECT_THAT(x->item_ids, ElementsAre("c", "a", "b", "d"));
  EXPECT_THAT(RowIds(*x, 0), ElementsAre("c", "a", "b", "d"));
  EXPECT_THAT(RowIds(*x, 1), ElementsAre("b"));
}

TEST(InteractionsTest, CountLinesUseZeroBasedLineNumbersAsUserIds) {
  testing::ScratchDir dir;
  const std::string path =
      dir.Write("users.dat",
                "2 10 11\n"
                "0\n"           // user "1": no items, dropped
                "3 11 12 11\n"  // duplicate counts toward the count
                "1 99");
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kCountLines));
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_THAT(x->user_ids, ElementsAre("0", "2", "3"));
  EXPECT_THAT(x->item_ids, ElementsAre("10", "11", "12", "99"));
  EXPECT_THAT(RowIds(*x, 1), ElementsAre("11", "12"));
}

TEST(InteractionsTest, CountLinesRejectBadCounts) {
  testing::ScratchDir dir;
  const std::string mismatch = dir.Write("users.dat", "2 10 11\n\n3 1 2\n");
  absl::Status s =
      LoadInteractions(mismatch, Format(InputFormat::kCountLines)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("users.dat:3:"));
  EXPECT_THAT(s.message(), HasSubstr("count says 3 items, found 2"));

  const std::string garbage = dir.Write("bad.dat", "1 5\nx 5\n");
  s = LoadInteractions(garbage, Format(InputFormat::kCountLines)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("bad.dat:2: invalid item count 'x'"));

  const std::string negative = dir.Write("neg.dat", "-1\n");
  EXPECT_THAT(LoadInteractions(negative, Format(InputFormat::kCountLines))
                  .status()
                  .message(),
              HasSubstr("neg.dat:1:"));
}

TEST(InteractionsTest, MinItemCountThenMinUserCountOnePassEach) {
  testing::ScratchDir dir;
  const std::string path = dir.Write("train.txt",
                                     "A x y z\n"
                                     "B x y\n"
                                     "E r\n"
                                     "C x q\n"
                                     "D q\n"
                                     "F r\n");
  LoadOptions options = Format(InputFormat::kUserLines);
  options.min_item_count = 2;  // drops z (1 user)
  options.min_user_count = 2;  // then drops D, E, F (1 item each)
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_THAT(x->user_ids, ElementsAre("A", "B", "C"));
  // q keeps a single user after the user pass (no second item pass); r has
  // no users left at all and is removed. First-appearance order is kept.
  EXPECT_THAT(x->item_ids, ElementsAre("x", "y", "q"));
  EXPECT_THAT(RowIds(*x, 0), ElementsAre("x", "y"));
  EXPECT_THAT(RowIds(*x, 2), ElementsAre("x", "q"));

  options.min_user_count = 4;
  EXPECT_EQ(LoadInteractions(path, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InteractionsTest, MinCountsUseDistinctPairs) {
  testing::ScratchDir dir;
  // Item "a" is rated three times by one user: one distinct user only.
  const std::string path = dir.Write("d.csv", "u,a\nu,a\nu,a\nv,b\nw,b\nv,c\n");
  LoadOptions options = Format(InputFormat::kDelimited);
  options.min_item_count = 2;
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("v", "w"));
  EXPECT_THAT(x->item_ids, ElementsAre("b"));
}

struct MalformedCase {
  InputFormat format;
  std::string name;
  std::string contents;
  std::string expected;  // Substring of the message.
};

TEST(InteractionsTest, MalformedLinesNameFileAndLine) {
  const std::vector<MalformedCase> cases = {
      {InputFormat::kMovieLensCsv, "ratings.csv",
       "userId,movieId,rating,timestamp\n1,2,3.0,4\n\n1,2\n",
       "ratings.csv:4: expected at least 3 fields, got 2"},
      {InputFormat::kMovieLensCsv, "ratings.csv",
       "userId,movieId,rating\n1,2,4\n1,3,four\n",
       "ratings.csv:3: invalid rating 'four'"},
      {InputFormat::kMovieLensCsv, "ratings.csv",
       "userId,movieId,rating\n1,2,nan\n",
       "ratings.csv:2: invalid rating 'nan'"},
      {InputFormat::kMovieLensCsv, "ratings.csv",
       "userId,movieId,rating\r\n1,2,4\r\n,3,4\r\n",
       "ratings.csv:3: empty user id"},
      {InputFormat::kMovieLensDat, "u.data", "1\t2\t3\t4\n5\t\t3\t4\n",
       "u.data:2: empty item id"},
      {InputFormat::kMovieLensDat, "ratings.dat", "1::2::3::4\n1::2\n",
       "ratings.dat:2: expected at least 3 fields, got 2"},
      // Latin-1 "é": ids must be UTF-8 to travel in protobuf strings.
      {InputFormat::kUserLines, "train.txt", "u1 caf\xc3\xa9 tea\nu2 caf\xe9\n",
       "train.txt:2: item id is not valid UTF-8"},
  };
  testing::ScratchDir dir;
  for (const MalformedCase& c : cases) {
    const std::string path = dir.Write(c.name, c.contents);
    absl::Status s = LoadInteractions(path, Format(c.format)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.contents;
    EXPECT_THAT(s.message(), HasSubstr(c.expected)) << c.contents;
    EXPECT_THAT(s.message(), HasSubstr(dir.path().string()))
        << "names the full path";
  }
}

TEST(InteractionsTest, UnreadableFiles) {
  testing::ScratchDir dir;
  absl::Status s =
      LoadInteractions(dir.File("missing.csv"), LoadOptions()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("missing.csv"));

  EXPECT_EQ(
      LoadInteractions(dir.path().string(), LoadOptions()).status().code(),
      absl::StatusCode::kInvalidArgument);  // A directory.

  const std::string empty =
      dir.Write("ratings.csv", "userId,movieId,rating,timestamp\n");
  EXPECT_EQ(LoadInteractions(empty, LoadOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);

  if (geteuid() != 0) {  // root reads anything
    const std::string locked = dir.Write("locked.csv", "1,2\n");
    ASSERT_EQ(chmod(locked.c_str(), 0), 0);
    EXPECT_EQ(LoadInteractions(locked, Format(InputFormat::kDelimited))
                  .status()
                  .code(),
              absl::StatusCode::kPermissionDenied);
  }
}

TEST(InteractionsTest, LinesLongerThanTheReadBuffer) {
  testing::ScratchDir dir;
  // One 12 MB line (beyond the 8 MB chunk) followed by a short one.
  std::string contents = "heavy";
  contents.reserve(12'500'000);
  for (int k = 0; k < 2'000'000; ++k)
    absl::StrAppend(&contents, " i", k % 1000, "");
  contents += "\nlight i5 i0\n";
  const std::string path = dir.Write("train.txt", contents);
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kUserLines));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("heavy", "light"));
  EXPECT_EQ(x->num_items(), 1000u);
  EXPECT_THAT(x->row_offsets, ElementsAre(0, 1000, 1002));
  EXPECT_THAT(RowIds(*x, 1), ElementsAre("i0", "i5"));
}

TEST(InteractionsTest, FilesSpanningManyReadChunks) {
  testing::ScratchDir dir;
  // ~10 MB of short lines, so lines straddle the 8 MB chunk boundary.
  std::string contents;
  constexpr int kRows = 700'000;
  for (int k = 0; k < kRows; ++k) {
    absl::StrAppend(&contents, "user", k / 7, ",item", k % 1000, "\n");
  }
  ASSERT_GT(contents.size(), size_t{9} << 20);
  const std::string path = dir.Write("big.csv", contents);
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kDelimited));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->num_users(), kRows / 7u);
  EXPECT_EQ(x->num_items(), 1000u);
  EXPECT_EQ(x->num_interactions(), static_cast<size_t>(kRows));
  EXPECT_EQ(x->user_ids.back(), absl::StrCat("user", kRows / 7 - 1));
  EXPECT_THAT(RowIds(*x, 1), ElementsAre("item7", "item8", "item9", "item10",
                                         "item11", "item12", "item13"));
}

TEST(InteractionsTest, AutoDetection) {
  testing::ScratchDir dir;
  LoadOptions options;  // kAuto

  // ratings.csv → movielens-csv (rating column, header skipped).
  std::string path =
      dir.Write("ratings.csv", "userId,movieId,rating,timestamp\n1,5,4.5,0\n");
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("5"));

  // Any name with the MovieLens CSV header.
  path = dir.Write("ml.csv", "userId,movieId,rating,timestamp\n1,5,4.5,0\n");
  ASSERT_TRUE(LoadInteractions(path, options).ok());

  // "::" → movielens-dat; the rating column exists, so min_rating applies.
  path = dir.Write("ratings.dat", "1::5::2::0\n1::6::5::0\n");
  options.min_rating = 3;
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("6"));
  options.min_rating.reset();

  // u.data (tab, numeric first field) → movielens-dat.
  path = dir.Write("u.data", "196\t242\t3\t881250949\n");
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("242"));

  // .dat with a tab header → TSV with header, columns 0/1, no rating.
  path = dir.Write("user_artists.dat",
                   "userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t0\r\n");
  options.min_rating = 100;  // No rating column: ignored.
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("2"));
  EXPECT_THAT(x->item_ids, ElementsAre("51", "52"));
  options.min_rating.reset();

  // One-line-per-user files and unknown names are ambiguous: ask for --format.
  for (const char* name : {"train.txt", "users.dat", "data.csv", "r.txt"}) {
    path = dir.Write(
        name, std::string(name) == "r.txt" ? "1::2::3::4\n" : "3 1 2 4\n");
    absl::Status s = LoadInteractions(path, options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("--format")) << name;
  }
}

// ---- Real datasets ---------------------------------------------------------

TEST(InteractionsRealDataTest, MovieLensLatestSmall) {
  EDLAE_REQUIRE_DATASET(path, "movielens-latest-small/ratings.csv");
  absl::StatusOr<Interactions> x = LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_EQ(x->num_users(), 610u);
  EXPECT_EQ(x->num_items(), 9724u);
  EXPECT_EQ(x->num_interactions(), 100836u);
  EXPECT_EQ(x->user_ids.front(), "1");
  EXPECT_EQ(x->item_ids.front(), "1");  // "1,1,4.0,964982703" is the first row.

  // Independent count of rows with rating > 3.5 (the file has no duplicates).
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  size_t expected = 0;
  std::set<std::string> users, items;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    double rating = 0;
    ASSERT_TRUE(absl::SimpleAtod(f[2], &rating)) << line;
    if (rating > 3.5) {
      ++expected;
      users.insert(f[0]);
      items.insert(f[1]);
    }
  }
  LoadOptions options;
  options.min_rating = 3.5;
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_EQ(x->num_interactions(), expected);
  EXPECT_EQ(x->num_users(), users.size());
  EXPECT_EQ(x->num_items(), items.size());
  EXPECT_EQ(x->num_interactions(), 48580u);  // SOURCE.md: rating >= 4.0
  EXPECT_EQ(x->num_users(), 609u);
  EXPECT_EQ(x->num_items(), 6298u);

  // Item-then-user count filters leave every kept user with enough items.
  options.min_item_count = 5;
  options.min_user_count = 5;
  absl::StatusOr<Interactions> f = LoadInteractions(path, options);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectWellFormed(*f);
  EXPECT_LT(f->num_items(), x->num_items());
  for (size_t u = 0; u < f->num_users(); ++u) {
    EXPECT_GE(f->row_offsets[u + 1] - f->row_offsets[u], 5u);
  }
}

TEST(InteractionsRealDataTest, MovieLens100k) {
  EDLAE_REQUIRE_DATASET(path, "movielens-100k/u.data");
  absl::StatusOr<Interactions> x = LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_EQ(x->num_users(), 943u);
  EXPECT_EQ(x->num_items(), 1682u);
  EXPECT_EQ(x->num_interactions(), 100000u);
  EXPECT_EQ(x->user_ids.front(), "196");

  LoadOptions options = Format(InputFormat::kMovieLensDat);
  options.min_rating = 3.5;
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->num_users(), 942u);  // SOURCE.md: rating >= 4
  EXPECT_EQ(x->num_items(), 1447u);
  EXPECT_EQ(x->num_interactions(), 55375u);
}

TEST(InteractionsRealDataTest, MovieLens1mImplicitLines) {
  EDLAE_REQUIRE_DATASET(path, "movielens-1m-implicit-ge3/train.txt");
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kUserLines));
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_EQ(x->num_users(), 6039u);
  EXPECT_EQ(x->num_items(), 3583u);
  EXPECT_EQ(x->num_interactions(), 590733u);
  EXPECT_EQ(x->user_ids.front(), "0");
}

TEST(InteractionsRealDataTest, CiteULikeCountLines) {
  EDLAE_REQUIRE_DATASET(path, "citeulike-a/users.dat");
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kCountLines));
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_EQ(x->num_users(), 5551u);
  EXPECT_EQ(x->num_items(), 16980u);
  EXPECT_EQ(x->num_interactions(), 204986u);
  EXPECT_EQ(x->user_ids.front(), "0");
  EXPECT_EQ(x->user_ids.back(), "5550");

  // Row 0 matches the file's first line.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  std::vector<std::string> tokens =
      absl::StrSplit(first, ' ', absl::SkipEmpty());
  std::set<std::string> expected(tokens.begin() + 1, tokens.end());
  std::vector<std::string> row = RowIds(*x, 0);
  EXPECT_EQ(std::set<std::string>(row.begin(), row.end()), expected);
}

TEST(InteractionsRealDataTest, LastFmUserArtistsTsvWithHeader) {
  EDLAE_REQUIRE_DATASET(path, "lastfm-hetrec2011/user_artists.dat");
  LoadOptions options = Format(InputFormat::kDelimited);
  options.delimiter = '\t';
  options.has_header = true;
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_EQ(x->num_users(), 1892u);
  EXPECT_EQ(x->num_items(), 17632u);
  EXPECT_EQ(x->num_interactions(), 92834u);
  EXPECT_EQ(x->user_ids.front(), "2");
  EXPECT_EQ(x->item_ids.front(), "51");  // No '\r' left on ids.

  absl::StatusOr<Interactions> autodetected =
      LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(autodetected.ok()) << autodetected.status();
  EXPECT_EQ(autodetected->item_ids, x->item_ids);
  EXPECT_EQ(autodetected->item_indices, x->item_indices);
}

// ---- Quoting, BOM, name detection, lists -----------------------------------

TEST(InteractionsQuotingTest, QuotedFieldsFollowRfc4180) {
  testing::ScratchDir dir;
  const std::string path = dir.Write(
      "plays.csv",
      "u1,\"a,b\"\n"
      "u1,\"say \"\"hi\"\"\"\n"
      "\"u 2\" , \"c\"\n"   // blanks around quotes dropped, kept inside
      "u 2,plain\"quote\n"  // a quote inside an unquoted field is literal
      "u3,\"\"\"\"\n"       // just one quote
      "u3,\"x\",\"extra,col\"\n");
  absl::StatusOr<Interactions> x =
      LoadInteractions(path, Format(InputFormat::kDelimited));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("u1", "u 2", "u3"));
  EXPECT_THAT(x->item_ids,
              ElementsAre("a,b", "say \"hi\"", "c", "plain\"quote", "\"", "x"));
  EXPECT_THAT(RowIds(*x, 0), ElementsAre("a,b", "say \"hi\""));
  EXPECT_THAT(RowIds(*x, 1), ElementsAre("c", "plain\"quote"));
}

TEST(InteractionsQuotingTest, QuotedRatingsHeadersAndTsv) {
  testing::ScratchDir dir;
  // MovieLens CSV with a quoted header and ratings; min_rating applies.
  std::string path = dir.Write(
      "ratings.csv",
      "\"userId\",\"movieId\",\"rating\"\n1,\"10,5\",\"4.5\"\n1,11,\"2\"\n");
  LoadOptions options;
  options.min_rating = 3;
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("10,5"));

  // TSV: a quoted field may hold a tab.
  path = dir.Write("t.tsv", "u1\t\"a\tb\"\nu1\tc\n");
  options = Format(InputFormat::kDelimited);
  options.delimiter = '\t';
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("a\tb", "c"));

  // Columns after a quoted field holding the delimiter are counted right.
  path = dir.Write("cols.csv", "\"x,y\",u1,i1,5\n\"z\",u1,i2,1\n");
  options = Format(InputFormat::kDelimited);
  options.user_column = 1;
  options.item_column = 2;
  options.rating_column = 3;
  options.min_rating = 2;
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("i1"));

  // "::" (movielens-dat) takes quotes literally.
  path = dir.Write("ratings.dat", "1::\"a b\"::5::0\n");
  x = LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("\"a b\""));
}

TEST(InteractionsQuotingTest, MalformedQuotesNameFileAndLine) {
  testing::ScratchDir dir;
  const struct {
    const char* contents;
    const char* expected;
  } cases[] = {
      {"u1,a\nu1,\"b,c\n", "bad.csv:2: unterminated quoted field"},
      {"u1,\"multi\nline\"\n", "bad.csv:1: unterminated quoted field"},
      {"u1,\"a\"b\n", "bad.csv:1: unexpected text after a closing quote"},
      {"\"u1\"x,a\n", "bad.csv:1: unexpected text after a closing quote"},
      {"\"\",a\n", "bad.csv:1: empty user id"},
  };
  for (const auto& c : cases) {
    const std::string path = dir.Write("bad.csv", c.contents);
    absl::Status s =
        LoadInteractions(path, Format(InputFormat::kDelimited)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.contents;
    EXPECT_THAT(s.message(), HasSubstr(c.expected)) << c.contents;
  }
}

TEST(InteractionsQuotingTest, Utf8ByteOrderMarkIsSkipped) {
  testing::ScratchDir dir;
  std::string path =
      dir.Write("ratings.csv",
                "\xEF\xBB\xBFuserId,movieId,rating,timestamp\r\n1,5,4,0\r\n");
  absl::StatusOr<Interactions> x = LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("1"));  // header recognized
  path = dir.Write("p.csv", "\xEF\xBB\xBFu1,a\nu2,b\n");
  x = LoadInteractions(path, Format(InputFormat::kDelimited));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("u1", "u2"));
  path = dir.Write("q.csv", "\xEF\xBB\xBF\"user\",\"item\"\n\"u1\",\"a,b\"\n");
  x = LoadInteractions(path, LoadOptions());
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("u1"));
  EXPECT_THAT(x->item_ids, ElementsAre("a,b"));
  // Only at the start of the file.
  path = dir.Write("r.csv", "u1,a\n\xEF\xBB\xBFu2,b\n");
  x = LoadInteractions(path, Format(InputFormat::kDelimited));
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(x->user_ids[1], "\xEF\xBB\xBFu2");
}

TEST(InteractionsAutoTest, AnyCsvOrTsvNameIsDetected) {
  testing::ScratchDir dir;
  LoadOptions options;  // kAuto
  // No header: every line is data; the third column is not a rating.
  std::string path = dir.Write("plays.csv", "u1,\"a,b\",7\nu2,c,x\n");
  absl::StatusOr<Interactions> x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("u1", "u2"));
  EXPECT_THAT(x->item_ids, ElementsAre("a,b", "c"));

  // A header of usual column names is skipped; the case of the name is not
  // significant.
  for (const char* header :
       {"user,item", "userId,itemId", "user_id,track_id", "UID,SID",
        "customer,product", "visitor,\"Item ID\""}) {
    path = dir.Write("PLAYS.CSV", absl::StrCat(header, "\r\nu1,a\r\n"));
    x = LoadInteractions(path, options);
    ASSERT_TRUE(x.ok()) << header << ": " << x.status();
    EXPECT_THAT(x->user_ids, ElementsAre("u1")) << header;
  }
  // The split's own train.csv ("uid,sid") reads back with auto.
  path = dir.Write("train.csv", "uid,sid\n0,3\n0,4\n1,3\n");
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("0", "1"));

  path = dir.Write("events.tsv", "user\titem\tts\nu1\t\"a\tb\"\t1\nu1\tc\t2\n");
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("a\tb", "c"));
  path = dir.Write("U.DATA", "196\t242\t3\t881250949\n");
  x = LoadInteractions(path, options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("242"));

  // A .csv without a comma on its first line (or .tsv without a tab) is not
  // guessed at.
  for (const char* name : {"spaces.csv", "spaces.tsv"}) {
    path = dir.Write(name, "u1 a b\n");
    absl::Status s = LoadInteractions(path, options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("--format")) << name;
  }
}

TEST(InteractionsListTest, SplitInputList) {
  testing::ScratchDir dir;
  EXPECT_THAT(*SplitInputList("a.csv"), ElementsAre("a.csv"));
  EXPECT_THAT(*SplitInputList("a.csv,b.csv,c.dat"),
              ElementsAre("a.csv", "b.csv", "c.dat"));
  // An existing file whose name holds a comma is one file.
  const std::string odd = dir.Write("x,y.csv", "u1,a\n");
  EXPECT_THAT(*SplitInputList(odd), ElementsAre(odd));
  EXPECT_EQ(SplitInputList("").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status s = SplitInputList("a.csv,,b.csv").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("empty file name"));
  EXPECT_FALSE(SplitInputList("a.csv,").ok());
}

TEST(InteractionsListTest, ListsAreUnitedPerUserBeforeTheCountFilters) {
  testing::ScratchDir dir;
  const std::string a = dir.Write("a.csv", "user,item\nu1,i1\nu2,i2\nu1,i3\n");
  const std::string b = dir.Write("b.tsv", "u1\ti1\nu3\ti2\nu1\ti4\n");
  const std::string c =
      dir.Write("ratings.csv", "userId,movieId,rating\nu3,i5,5\nu3,i6,1\n");
  LoadOptions options;     // kAuto, resolved per file
  options.min_rating = 3;  // applies where there is a rating column
  std::vector<InputFileSummary> summaries;
  absl::StatusOr<Interactions> x =
      LoadInteractionFiles({a, b, c}, options, &summaries);
  ASSERT_TRUE(x.ok()) << x.status();
  ExpectWellFormed(*x);
  EXPECT_THAT(x->user_ids, ElementsAre("u1", "u2", "u3"));
  EXPECT_THAT(x->item_ids, ElementsAre("i1", "i2", "i3", "i4", "i5"));
  EXPECT_THAT(RowIds(*x, 0), ElementsAre("i1", "i3", "i4"));
  EXPECT_THAT(RowIds(*x, 2), ElementsAre("i2", "i5"));
  ASSERT_EQ(summaries.size(), 3u);
  EXPECT_EQ(summaries[1].path, b);
  EXPECT_EQ(summaries[1].interactions, 3u);
  EXPECT_EQ(summaries[2].interactions, 1u);

  // Counts see the union of distinct pairs: i2 has 2 users only across
  // files (i1 is u1's in two files: one user), u1 has 3 items only across
  // files.
  options.min_item_count = 2;
  x = LoadInteractionList(absl::StrCat(a, ",", b, ",", c), options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->item_ids, ElementsAre("i2"));
  EXPECT_THAT(x->user_ids, ElementsAre("u2", "u3"));
  options.min_item_count = 0;
  options.min_user_count = 3;
  x = LoadInteractionList(absl::StrCat(a, ",", b), options);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_THAT(x->user_ids, ElementsAre("u1"));

  // One file is LoadInteractions exactly; errors name the failing file.
  options = LoadOptions();
  x = LoadInteractionList(a, options);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->item_ids, LoadInteractions(a, options)->item_ids);
  absl::Status s =
      LoadInteractionList(absl::StrCat(a, ",", dir.File("none.csv")), options)
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("none.csv"));
  options.min_user_count = 100;
  s = LoadInteractionList(absl::StrCat(a, ",", b), options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr(absl::StrCat(a, ",", b, ": no interactions")));
  EXPECT_FALSE(LoadInteractionFiles({}, options).ok());
}

}  // namespace
}  // namespace edlae
