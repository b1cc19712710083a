// edlae-train inspect MODEL: kind, sizes, metadata, and for low-rank models the
// distributions of diag(UVᵀ) and cos(Uᵢ, Vᵢ).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/model.h"
#include "core/weight_rows.h"
#include "trainer/commands/command.h"
#include "trainer/commands/common_flags.h"

namespace edlae::cli {
namespace {

// min, quartiles (linear interpolation), max and mean of `x` (non-empty).
std::string Summary(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  auto quantile = [&x](double q) {
    const double pos = q * static_cast<double>(x.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, x.size() - 1);
    return x[lo] + (pos - static_cast<double>(lo)) * (x[hi] - x[lo]);
  };
  double sum = 0;
  for (double v : x) sum += v;
  return absl::StrFormat("%11.4g %11.4g %11.4g %11.4g %11.4g %11.4g", x.front(),
                         quantile(0.25), quantile(0.5), quantile(0.75),
                         x.back(), sum / static_cast<double>(x.size()));
}

double Dot(const float* a, const float* b, size_t k) {
  double s = 0;
  for (size_t c = 0; c < k; ++c) s += static_cast<double>(a[c]) * b[c];
  return s;
}

// inspect's model file: the argument, or --model-file.
struct InspectFlags {
  std::string model;
  std::string model_file;
};

int RunInspect(const CLI::App& command, const InspectFlags& flags) {
  if (flags.model.empty() == flags.model_file.empty()) {
    return UsageError(
        command, "inspect needs one model file: edlae-train inspect MODEL");
  }
  const std::string& path =
      flags.model.empty() ? flags.model_file : flags.model;
  absl::StatusOr<std::shared_ptr<const Model>> opened = Model::Open(path);
  if (!opened.ok()) return Fail(opened.status());
  const Model& m = **opened;
  const bool low_rank = m.kind() == ModelKind::kLowRank;
  const size_t n = m.num_items();
  std::cout << absl::StrFormat("model:        %s\n", path);
  std::cout << absl::StrFormat("kind:         %s\n", ModelKindName(m.kind()));
  std::cout << absl::StrFormat("items:        %d\n", n);
  if (low_rank) {
    std::cout << absl::StrFormat(
        "rank:         %d (rows padded to %d elements)\n", m.rank(),
        m.row_stride());
  }
  std::cout << absl::StrFormat("dtype:        %s\n", DTypeName(m.dtype()));
  std::cout << absl::StrFormat(
      "file:         %d bytes, format version %d, "
      "fingerprint %s\n",
      m.file_size(), m.format_version(), m.fingerprint());
  std::cout << "metadata:\n";
  for (const auto& [key, value] : m.metadata()) {
    std::cout << absl::StrFormat("  %-18s %s\n", key, value);
  }
  std::cout << absl::StrFormat("\nper-item distributions over %d items:\n", n);
  std::cout << absl::StrFormat("  %-16s %11s %11s %11s %11s %11s %11s\n", "",
                               "min", "q1", "median", "q3", "max", "mean");
  std::vector<double> popularity(m.popularity().begin(), m.popularity().end());
  std::cout << absl::StrFormat("  %-16s %s\n", "popularity",
                               Summary(popularity));
  if (low_rank) {
    // diag(UVᵀ)_i = Uᵢ·Vᵢ: EDLAE (Eq. 10) leaves it free, zero-diag (Eq. 11)
    // forces 0; cos(Uᵢ, Vᵢ) near 0 is the near-orthogonality of Steck 2020
    // §4.1.2.
    std::vector<double> diag(n), cosine;
    cosine.reserve(n);
    const size_t k = m.rank();
    std::vector<float> u(k), v(k);  // rows widened from any dtype
    for (size_t i = 0; i < n; ++i) {
      ReadRow(m.u_rows(), i, k, u.data());
      ReadRow(m.v_rows(), i, k, v.data());
      diag[i] = Dot(u.data(), v.data(), k);
      const double norms =
          std::sqrt(Dot(u.data(), u.data(), k) * Dot(v.data(), v.data(), k));
      if (norms > 0) cosine.push_back(diag[i] / norms);
    }
    std::cout << absl::StrFormat("  %-16s %s\n", "diag(UVᵀ)", Summary(diag));
    if (!cosine.empty()) {
      std::cout << absl::StrFormat("  %-16s %s\n", "cos(Uᵢ, Vᵢ)",
                                   Summary(cosine));
    }
    if (cosine.size() < n) {
      std::cout << absl::StrFormat(
          "  (%d items with a zero embedding have no "
          "cosine)\n",
          n - cosine.size());
    }
  } else if (m.kind() == ModelKind::kDense) {
    std::vector<double> diag(n);
    for (size_t i = 0; i < n; ++i) diag[i] = WeightAt(m.dense_rows(), i, i);
    std::cout << absl::StrFormat("  %-16s %s\n", "diag(B)", Summary(diag));
  }
  return kExitOk;
}

}  // namespace

Command AddInspectCommand(CLI::App& program) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* command = program.add_subcommand(
      "inspect",
      "A model file's kind, sizes, metadata, and the distributions of "
      "popularity and diag(B) (dense) or diag(UVᵀ) and cos(Uᵢ, Vᵢ) "
      "(low-rank).");
  command->add_option("MODEL", flags->model, "model file to inspect");
  AddOption(*command, "model-file", flags->model_file,
            "the model file (instead of MODEL)");
  return {command, [command, flags] { return RunInspect(*command, *flags); }};
}

}  // namespace edlae::cli
