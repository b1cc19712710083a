// Synthetic ratings.csv: Zipf popularity, topic tastes, heavy-tailed users.
#include "evaluation/synth.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "core/status_macros.h"

namespace edlae {
namespace {

// Share of a user's draws that come from its own topics (the rest follow
// global popularity, which gives cross-topic noise).
constexpr double kOnTasteShare = 0.8;
// Log-normal spread of user activity (ML-20M's mean/median ratio is ~2).
constexpr double kActivitySigma = 1.1;
constexpr size_t kMinItemsPerUser = 5;
constexpr size_t kMaxTopicsPerUser = 3;
constexpr int64_t kFirstTimestamp = 1'000'000'000;  // 2001-09-09

// Rating distributions (P(1)..P(5)): on-taste items are rated higher.
constexpr std::array<double, 5> kOnTasteRatings = {0.03, 0.05, 0.17, 0.40,
                                                   0.35};
constexpr std::array<double, 5> kOffTasteRatings = {0.12, 0.18, 0.35, 0.25,
                                                    0.10};

// std::mt19937_64 output is fixed by the standard; the std distributions are
// not, so every distribution here is built from raw 64-bit draws.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Bits() { return engine_(); }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Bits() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0 (Lemire's unbiased multiply-shift).
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Bits()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Bits()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Standard normal (Box–Muller, one value per call).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]: log is finite.
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) *
           std::cos(2.0 * std::numbers::pi * u2);
  }

  // Exponential(1), used for flat Dirichlet weights.
  double Exponential() { return -std::log(1.0 - Uniform()); }

  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) {
      std::swap((*v)[i - 1], (*v)[Below(i)]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

// Walker/Vose alias table: O(1) weighted draws of an index in [0, n).
class AliasTable {
 public:
  AliasTable() = default;
  explicit AliasTable(const std::vector<double>& weights)
      : prob_(weights.size()), alias_(weights.size()) {
    const size_t n = weights.size();
    double total = 0;
    for (double w : weights) total += w;
    std::vector<double> scaled(n);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const uint32_t s = small.back();
      small.pop_back();
      const uint32_t l = large.back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Leftovers are 1 up to rounding.
    for (uint32_t i : large) prob_[i] = 1.0, alias_[i] = i;
    for (uint32_t i : small) prob_[i] = 1.0, alias_[i] = i;
  }

  uint32_t Sample(Rng& rng) const {
    const uint32_t i = static_cast<uint32_t>(rng.Below(prob_.size()));
    return rng.Uniform() < prob_[i] ? i : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<uint32_t> alias_;
};

int SampleRating(Rng& rng, const std::array<double, 5>& p) {
  double u = rng.Uniform();
  for (int r = 0; r < 4; ++r) {
    if (u < p[r]) return r + 1;
    u -= p[r];
  }
  return 5;
}

absl::Status ValidateOptions(const SynthOptions& o) {
  if (o.num_items < 2) {
    return absl::InvalidArgumentError("synthetic data needs num_items >= 2");
  }
  if (o.num_items > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError("num_items is too large");
  }
  if (o.num_users < 1) {
    return absl::InvalidArgumentError("synthetic data needs num_users >= 1");
  }
  if (o.num_topics < 1 || o.num_topics > o.num_items) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_topics must be in [1, num_items = ", o.num_items,
                     "], got ", o.num_topics));
  }
  if (!std::isfinite(o.popularity_exponent) || o.popularity_exponent < 0 ||
      o.popularity_exponent > 10) {
    return absl::InvalidArgumentError(absl::StrCat(
        "popularity_exponent must be in [0, 10], got ", o.popularity_exponent));
  }
  const size_t lo = std::min(kMinItemsPerUser, o.num_items);
  if (!std::isfinite(o.mean_items_per_user) ||
      o.mean_items_per_user < static_cast<double>(lo) ||
      o.mean_items_per_user > static_cast<double>(o.num_items)) {
    return absl::InvalidArgumentError(
        absl::StrCat("mean_items_per_user must be in [", lo, ", ", o.num_items,
                     "], got ", o.mean_items_per_user));
  }
  return absl::OkStatus();
}

// Heavy-tailed (log-normal) items per user, clamped to [lo, hi], with the
// scale fitted by bisection so the realised mean matches the target.
std::vector<uint32_t> DrawActivity(Rng& rng, const SynthOptions& o) {
  const size_t n = o.num_users;
  const double lo =
      static_cast<double>(std::min(kMinItemsPerUser, o.num_items));
  const double hi = static_cast<double>(o.num_items);
  std::vector<double> z(n);
  for (double& v : z) v = std::exp(kActivitySigma * rng.Normal());
  auto total_for = [&](double scale) {
    double total = 0;
    for (double v : z) total += std::clamp(std::round(scale * v), lo, hi);
    return total;
  };
  const double target = o.mean_items_per_user * static_cast<double>(n);
  const auto [zmin, zmax] = std::minmax_element(z.begin(), z.end());
  double log_lo = std::log(lo / *zmax) - 1.0;  // Everyone clamped to lo.
  double log_hi = std::log(hi / *zmin) + 1.0;  // Everyone clamped to hi.
  for (int iter = 0; iter < 100; ++iter) {
    const double mid = 0.5 * (log_lo + log_hi);
    (total_for(std::exp(mid)) < target ? log_lo : log_hi) = mid;
  }
  const double below = total_for(std::exp(log_lo));
  const double above = total_for(std::exp(log_hi));
  const double scale =
      std::exp(target - below <= above - target ? log_lo : log_hi);
  std::vector<uint32_t> counts(n);
  for (size_t u = 0; u < n; ++u) {
    counts[u] =
        static_cast<uint32_t>(std::clamp(std::round(scale * z[u]), lo, hi));
  }
  return counts;
}

// Buffered writer to a file descriptor.
class FdWriter {
 public:
  FdWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    buffer_.reserve(kFlushAt + 256);
  }

  void Append(std::string_view s) { buffer_.append(s); }
  void AppendInt(int64_t v) {
    char tmp[24];
    const auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
    buffer_.append(tmp, r.ptr);
  }
  absl::Status MaybeFlush() {
    return buffer_.size() >= kFlushAt ? Flush() : absl::OkStatus();
  }
  absl::Status Flush() {
    RETURN_IF_ERROR(WriteAll(fd_, buffer_.data(), buffer_.size(), path_));
    buffer_.clear();
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kFlushAt = size_t{4} << 20;
  int fd_;
  std::string path_;  // names the file in errors
  std::string buffer_;
};

// Generates all rows into `out`.
// The catalog: Zipf popularity and equal-size topics, with samplers.
struct Catalog {
  std::vector<double> popularity;                  // unnormalised, per item
  std::vector<uint32_t> topic_of;                  // per item
  std::vector<std::vector<uint32_t>> topic_items;  // sorted item ids
  double global_total = 0;
  std::vector<double> topic_total;
  AliasTable global;
  std::vector<AliasTable> topic_tables;
};

Catalog BuildCatalog(Rng& rng, const SynthOptions& o) {
  const size_t num_items = o.num_items;
  const size_t num_topics = o.num_topics;
  Catalog c;
  // Popularity ranks are shuffled so ids do not reveal popularity.
  std::vector<uint32_t> rank(num_items);
  for (size_t i = 0; i < num_items; ++i) rank[i] = static_cast<uint32_t>(i);
  rng.Shuffle(&rank);
  c.popularity.resize(num_items);
  for (size_t i = 0; i < num_items; ++i) {
    c.popularity[i] =
        std::pow(static_cast<double>(rank[i]) + 1.0, -o.popularity_exponent);
  }

  // Topics of equal size, independent of popularity, so each has a head.
  std::vector<uint32_t> order(num_items);
  for (size_t i = 0; i < num_items; ++i) order[i] = static_cast<uint32_t>(i);
  rng.Shuffle(&order);
  c.topic_of.resize(num_items);
  c.topic_items.resize(num_topics);
  for (size_t k = 0; k < num_items; ++k) {
    const uint32_t t = static_cast<uint32_t>(k % num_topics);
    c.topic_of[order[k]] = t;
    c.topic_items[t].push_back(order[k]);
  }
  for (auto& items : c.topic_items) std::sort(items.begin(), items.end());

  for (double p : c.popularity) c.global_total += p;
  c.global = AliasTable(c.popularity);
  c.topic_total.assign(num_topics, 0);
  c.topic_tables.reserve(num_topics);
  for (size_t t = 0; t < num_topics; ++t) {
    std::vector<double> w;
    w.reserve(c.topic_items[t].size());
    for (uint32_t i : c.topic_items[t]) {
      w.push_back(c.popularity[i]);
      c.topic_total[t] += c.popularity[i];
    }
    c.topic_tables.emplace_back(w);
  }
  return c;
}

// One user's tastes: one to three distinct topics with flat-Dirichlet
// mixing weights, written into `topic_mix` (indexed by topic).
struct Tastes {
  std::vector<uint32_t> topics;
  std::array<double, kMaxTopicsPerUser> cumulative{};  // over `topics`
};

void DrawTastes(Rng& rng, size_t num_topics, Tastes* tastes,
                std::vector<double>* topic_mix) {
  const size_t k = 1 + rng.Below(std::min(kMaxTopicsPerUser, num_topics));
  std::vector<uint32_t>& topics = tastes->topics;
  topics.clear();
  while (topics.size() < k) {
    const uint32_t t = static_cast<uint32_t>(rng.Below(num_topics));
    if (std::find(topics.begin(), topics.end(), t) == topics.end()) {
      topics.push_back(t);
    }
  }
  std::array<double, kMaxTopicsPerUser>& cumulative = tastes->cumulative;
  cumulative = {};
  double sum = 0;
  for (size_t j = 0; j < k; ++j) sum += (cumulative[j] = rng.Exponential());
  double running = 0;
  for (size_t j = 0; j < k; ++j) {
    (*topic_mix)[topics[j]] = cumulative[j] / sum;
    running += cumulative[j] / sum;
    cumulative[j] = running;
  }
  cumulative[k - 1] = 1.0;
}

// The items a user rates, as (item, from its own topics); `taken_by` marks
// the items already picked with `stamp`.
class ItemPicker {
 public:
  explicit ItemPicker(const Catalog& catalog)
      : c_(catalog), taken_by_(catalog.popularity.size(), 0) {}

  // Rejection sampling of distinct items; a user that has nearly exhausted
  // what its tastes offer (rare, very active users) falls back to
  // FillByWeight.
  const std::vector<std::pair<uint32_t, bool>>& Pick(
      Rng& rng, uint32_t stamp, size_t want, const Tastes& tastes,
      const std::vector<double>& topic_mix) {
    picks_.clear();
    size_t rejections = 0;
    const size_t max_rejections = 4 * want + 64;
    const size_t k = tastes.topics.size();
    while (picks_.size() < want && rejections < max_rejections) {
      uint32_t item;
      if (rng.Uniform() < kOnTasteShare) {
        const double v = rng.Uniform();
        size_t j = 0;
        while (j + 1 < k && v >= tastes.cumulative[j]) ++j;
        const uint32_t t = tastes.topics[j];
        item = c_.topic_items[t][c_.topic_tables[t].Sample(rng)];
      } else {
        item = c_.global.Sample(rng);
      }
      if (taken_by_[item] == stamp) {
        ++rejections;
        continue;
      }
      taken_by_[item] = stamp;
      picks_.emplace_back(item, topic_mix[c_.topic_of[item]] > 0);
    }
    if (picks_.size() < want) FillByWeight(rng, stamp, want, topic_mix);
    return picks_;
  }

 private:
  // Weighted sampling without replacement of the rest under the user's
  // mixture (Efraimidis–Spirakis: keep the largest log(U) / weight).
  void FillByWeight(Rng& rng, uint32_t stamp, size_t want,
                    const std::vector<double>& topic_mix) {
    keys_.clear();
    const size_t num_items = c_.popularity.size();
    for (size_t i = 0; i < num_items; ++i) {
      if (taken_by_[i] == stamp) continue;
      const uint32_t t = c_.topic_of[i];
      const double w =
          kOnTasteShare * topic_mix[t] * c_.popularity[i] / c_.topic_total[t] +
          (1.0 - kOnTasteShare) * c_.popularity[i] / c_.global_total;
      keys_.emplace_back(std::log(1.0 - rng.Uniform()) / w,
                         static_cast<uint32_t>(i));
    }
    const size_t rest = want - picks_.size();
    std::partial_sort(
        keys_.begin(), keys_.begin() + rest, keys_.end(),
        [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t r = 0; r < rest; ++r) {
      const uint32_t i = keys_[r].second;
      taken_by_[i] = stamp;
      picks_.emplace_back(i, topic_mix[c_.topic_of[i]] > 0);
    }
  }

  const Catalog& c_;
  std::vector<uint32_t> taken_by_;  // user + 1 that holds item
  std::vector<std::pair<uint32_t, bool>> picks_;
  std::vector<std::pair<double, uint32_t>> keys_;
};

// One CSV row per pick, with ratings and increasing timestamps.
void WriteUserRows(Rng& rng, size_t user,
                   const std::vector<std::pair<uint32_t, bool>>& picks,
                   int64_t* timestamp, FdWriter* out) {
  *timestamp += static_cast<int64_t>(rng.Below(600));  // Gap between users.
  for (const auto& [item, on_taste] : picks) {
    const int rating =
        SampleRating(rng, on_taste ? kOnTasteRatings : kOffTasteRatings);
    *timestamp += 1 + static_cast<int64_t>(rng.Below(30));
    out->AppendInt(static_cast<int64_t>(user + 1));
    out->Append(",");
    out->AppendInt(static_cast<int64_t>(item) + 1);
    out->Append(",");
    out->AppendInt(rating);
    out->Append(".0,");
    out->AppendInt(*timestamp);
    out->Append("\n");
  }
}

absl::Status Generate(const SynthOptions& o, FdWriter* out) {
  Rng rng(o.seed);
  const Catalog catalog = BuildCatalog(rng, o);
  const std::vector<uint32_t> activity = DrawActivity(rng, o);
  ItemPicker picker(catalog);
  Tastes tastes;
  std::vector<double> topic_mix(o.num_topics, 0);  // current user's weights
  int64_t timestamp = kFirstTimestamp;

  out->Append("userId,movieId,rating,timestamp\n");
  for (size_t u = 0; u < o.num_users; ++u) {
    const uint32_t stamp = static_cast<uint32_t>(u + 1);
    DrawTastes(rng, o.num_topics, &tastes, &topic_mix);
    WriteUserRows(rng, u,
                  picker.Pick(rng, stamp, activity[u], tastes, topic_mix),
                  &timestamp, out);
    for (uint32_t t : tastes.topics) topic_mix[t] = 0;
    if (absl::Status s = out->MaybeFlush(); !s.ok()) return s;
  }
  return out->Flush();
}

}  // namespace

absl::Status WriteSyntheticInteractions(const std::string& path,
                                        const SynthOptions& options) {
  if (path.empty()) return absl::InvalidArgumentError("empty output path");
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;

  // A temporary file beside the target, renamed into place: readers never see
  // a partial file, and a failed run leaves the previous one.
  AtomicFile file;
  RETURN_IF_ERROR(file.Create(path));
  FdWriter writer(file.fd(), file.path());
  RETURN_IF_ERROR(Generate(options, &writer));
  return file.Commit();
}

}  // namespace edlae
