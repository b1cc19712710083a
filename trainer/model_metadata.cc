// BuildModelMetadata: standard model-file keys from spec, counts, result.
#include "trainer/model_metadata.h"

#include <charconv>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/utf8.h"

namespace edlae {
namespace {

std::string NowRfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// `text` with every byte that breaks UTF-8 replaced by '?', so a file name in
// another encoding cannot make the metadata unwritable.
std::string ToUtf8Lossy(const std::string& text) {
  if (IsValidUtf8(text)) return text;
  std::string out;
  for (char c : text) {
    out.push_back(static_cast<unsigned char>(c) < 0x80 ? c : '?');
  }
  return out;
}

void AppendLowRankKeys(const ModelSpec& spec, const LowRankResult& lr,
                       ModelMetadata* metadata) {
  metadata->push_back({"rank", absl::StrCat(lr.k)});
  metadata->push_back({"method", LowRankMethodName(spec.method)});
  if (spec.method == LowRankMethod::kClosedForm) {
    metadata->push_back({"eigensolver", EigenMethodName(lr.eigensolver)});
    metadata->push_back({"eigen_residual",
                         absl::StrFormat("%.6g", lr.eigen_relative_residual)});
    return;
  }
  metadata->push_back({"epochs", absl::StrCat(spec.epochs)});
  if (spec.method == LowRankMethod::kAdmm) {
    metadata->push_back({"omega", MetadataNumber(Omega(spec))});
  }
  if (!lr.objectives.empty()) {
    metadata->push_back({"objective", MetadataNumber(lr.objectives.back())});
  }
}

}  // namespace

ModelMetadata BuildModelMetadata(const ModelSpec& spec,
                                 const TrainingFacts& facts,
                                 const LowRankResult* low_rank) {
  ModelMetadata metadata = {
      {"algorithm", AlgorithmName(spec.algorithm)},
      {"lambda", MetadataNumber(spec.lambda)},
      {"dropout", MetadataNumber(EffectiveDropout(spec))},
      {"precision", PrecisionName(SolvePrecision(spec))},
      {"num_users", absl::StrCat(facts.num_users)},
      {"num_items", absl::StrCat(facts.num_items)},
      {"num_interactions", absl::StrCat(facts.num_interactions)},
      {"created_at", NowRfc3339()},
  };
  if (low_rank != nullptr) AppendLowRankKeys(spec, *low_rank, &metadata);
  metadata.push_back(
      {"train_seconds", absl::StrFormat("%.3f", facts.train_seconds)});
  metadata.push_back({"source", ToUtf8Lossy(facts.source)});
  metadata.push_back({"edlae_version", EDLAE_VERSION});
  return metadata;
}

std::string MetadataNumber(double v) {
  // std::to_chars without a format: the shortest round-trip form, fixed or
  // scientific, whichever is shorter ("500", "0.2", "1e-300").
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

}  // namespace edlae
