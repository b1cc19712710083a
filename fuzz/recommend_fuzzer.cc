// libFuzzer target: the server's request parser (ParseRequest, checked
// against protobuf's own parser) and the Recommend and SimilarItems request
// handlers (RecommendWithModel, SimilarItemsWithModel, explanations
// included) on a tiny 10-item model, on arbitrary bytes.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "edlae/v1/recommender.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "server/recommender_service.h"
#include "server/request_parsing.h"

namespace {

// Items "i0".."i9"; B[i][j] = (i * 3 + j * 5) % 7 - 3; written to a temporary
// file, opened (mmap, as the server does) and the file removed.
const edlae::server::ServableHandle& TinyModel() {
  static const edlae::server::ServableHandle* handle = [] {
    constexpr size_t kN = 10;
    std::vector<float> b(kN * kN);
    std::vector<std::string> ids;
    std::vector<float> popularity;
    for (size_t i = 0; i < kN; ++i) {
      for (size_t j = 0; j < kN; ++j) {
        b[i * kN + j] =
            static_cast<float>(static_cast<int>((i * 3 + j * 5) % 7) - 3);
      }
      ids.push_back(absl::StrCat("i", i));
      popularity.push_back(static_cast<float>(kN - i));
    }
    edlae::DenseModelData data;
    data.b = b;
    data.item_ids = ids;
    data.popularity = popularity;
    const std::string path =
        absl::StrCat("/tmp/edlae_recommend_fuzzer_", ::getpid(), ".edlae");
    if (!edlae::WriteDenseModel(path, data).ok()) std::abort();
    auto model = edlae::Model::Open(path);
    ::unlink(path.c_str());
    if (!model.ok()) std::abort();
    return new edlae::server::ServableHandle{*model, 1};
  }();
  return *handle;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Invalid UTF-8 in string fields is a parse failure; its log line would
  // only slow the fuzzer down.
  google::protobuf::SetLogHandler(nullptr);
  TinyModel();
  return 0;
}

// Traps unless every returned item and contribution names a model item and
// every score and contribution is finite.
void CheckResponse(const edlae::v1::RecommendResponse& response,
                   uint32_t top_n) {
  if (response.items_size() > static_cast<int>(top_n)) __builtin_trap();
  for (const edlae::v1::ScoredItem& item : response.items()) {
    if (!TinyModel().model->FindItem(item.item_id()).has_value())
      __builtin_trap();
    if (!std::isfinite(item.score())) __builtin_trap();
    for (const edlae::v1::Contribution& c : item.contributions()) {
      if (!TinyModel().model->FindItem(c.item_id()).has_value())
        __builtin_trap();
      if (!std::isfinite(c.contribution())) __builtin_trap();
    }
  }
}

// The same bytes as a SimilarItems request: only documented refusals.
void FuzzSimilarItems(const uint8_t* data, size_t size,
                      const edlae::server::ServiceLimits& limits) {
  edlae::v1::SimilarItemsRequest request;
  if (!edlae::server::ParseRequest(
           std::string_view(reinterpret_cast<const char*>(data), size),
           &request)
           .ok()) {
    return;
  }
  edlae::v1::RecommendResponse response;
  const absl::Status status = edlae::server::SimilarItemsWithModel(
      TinyModel(), request, limits, "default", &response);
  if (!status.ok()) {
    if (status.code() != absl::StatusCode::kInvalidArgument &&
        status.code() != absl::StatusCode::kNotFound) {
      __builtin_trap();
    }
    return;
  }
  CheckResponse(response, request.top_n());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edlae::v1::RecommendRequest request;
  const absl::Status parsed = edlae::server::ParseRequest(
      std::string_view(reinterpret_cast<const char*>(data), size), &request);
  // The server's parser accepts exactly what protobuf accepts, and says why
  // it refuses.
  edlae::v1::RecommendRequest by_protobuf;
  if (parsed.ok() != by_protobuf.ParseFromArray(data, static_cast<int>(size))) {
    __builtin_trap();
  }
  if (!parsed.ok()) {
    if (parsed.code() != absl::StatusCode::kInvalidArgument ||
        parsed.message().empty()) {
      __builtin_trap();
    }
    return 0;
  }
  edlae::server::ServiceLimits limits;
  limits.max_top_n = 64;
  limits.max_history = 256;
  limits.max_item_list = 256;
  limits.max_contributions = 16;
  FuzzSimilarItems(data, size, limits);
  edlae::v1::RecommendResponse response;
  const absl::Status status = edlae::server::RecommendWithModel(
      TinyModel(), request, limits, &response);
  if (!status.ok()) {
    // Only the documented refusals.
    if (status.code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  CheckResponse(response, request.top_n());
  edlae::v1::ModelInfo info;
  if (!edlae::server::DescribeModel(TinyModel(), &info).ok()) __builtin_trap();
  return 0;
}
