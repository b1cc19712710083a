// Renders edlae-client results as aligned tables or single-line JSON objects.
#include "client/output_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace edlae::client {
namespace {

// A proto map's entries in key order (its own order is unspecified).
template <typename Map>
std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>>
Sorted(const Map& map) {
  std::vector<std::pair<typename Map::key_type, typename Map::mapped_type>>
      entries(map.begin(), map.end());
  std::sort(entries.begin(), entries.end());
  return entries;
}

auto SortedMetadata(const v1::ModelInfo& info) {
  return Sorted(info.metadata());
}
auto SortedLabels(const v1::ModelInfo& info) {
  return Sorted(info.version_labels());
}

}  // namespace

std::string RecommendResponseToJson(const v1::RecommendResponse& response) {
  std::string out = "{\"items\":[";
  for (int i = 0; i < response.items_size(); ++i) {
    const v1::ScoredItem& item = response.items(i);
    absl::StrAppend(&out, i == 0 ? "" : ",",
                    "{\"item_id\":", JsonQuote(item.item_id()),
                    ",\"score\":", JsonFloat(item.score()));
    if (item.contributions_size() > 0) {
      out.append(",\"contributions\":[");
      for (int c = 0; c < item.contributions_size(); ++c) {
        const v1::Contribution& from = item.contributions(c);
        absl::StrAppend(
            &out, c == 0 ? "" : ",", "{\"item_id\":", JsonQuote(from.item_id()),
            ",\"contribution\":", JsonFloat(from.contribution()), "}");
      }
      out.append("]");
    }
    out.append("}");
  }
  absl::StrAppend(
      &out, "],\"model_fingerprint\":", JsonQuote(response.model_fingerprint()),
      ",\"unknown_item_count\":", response.unknown_item_count(),
      ",\"popularity_fallback\":",
      response.popularity_fallback() ? "true" : "false",
      ",\"model_version\":", response.model_version(), "}");
  return out;
}

std::string RecommendResponseToTable(const v1::RecommendResponse& response) {
  size_t id_width = 7;  // "item_id"
  for (const v1::ScoredItem& item : response.items()) {
    id_width = std::max(id_width, item.item_id().size());
  }
  const int width = static_cast<int>(id_width);
  std::string out =
      absl::StrFormat("%4s  %-*s  %s\n", "rank", width, "item_id", "score");
  for (int i = 0; i < response.items_size(); ++i) {
    const v1::ScoredItem& item = response.items(i);
    absl::StrAppendFormat(&out, "%4d  %-*s  %.6g\n", i + 1, width,
                          item.item_id(), item.score());
    for (const v1::Contribution& c : item.contributions()) {
      absl::StrAppendFormat(&out, "      <- %s  %+.6g\n", c.item_id(),
                            c.contribution());
    }
  }
  absl::StrAppend(&out, "fingerprint=", response.model_fingerprint(),
                  " unknown_items=", response.unknown_item_count(),
                  " popularity_fallback=",
                  response.popularity_fallback() ? "true" : "false",
                  " model_version=", response.model_version(), "\n");
  return out;
}

std::string ModelInfoToJson(const v1::ModelInfo& info) {
  std::string out = absl::StrCat(
      "{\"kind\":", JsonQuote(info.kind()),
      ",\"dtype\":", JsonQuote(info.dtype()),
      ",\"num_items\":", info.num_items(), ",\"rank\":", info.rank(),
      ",\"fingerprint\":", JsonQuote(info.fingerprint()),
      ",\"format_version\":", info.format_version(),
      ",\"file_size_bytes\":", info.file_size_bytes(),
      ",\"model_version\":", info.model_version(), ",\"nnz\":", info.nnz(),
      ",\"density\":", absl::StrFormat("%.6g", info.density()),
      ",\"model_name\":", JsonQuote(info.model_name()),
      ",\"served_versions\":[", absl::StrJoin(info.served_versions(), ","),
      "],\"version_labels\":{");
  bool first = true;
  for (const auto& [label, version] : SortedLabels(info)) {
    absl::StrAppend(&out, first ? "" : ",", JsonQuote(label), ":", version);
    first = false;
  }
  out.append("},\"metadata\":{");
  first = true;
  for (const auto& [key, value] : SortedMetadata(info)) {
    absl::StrAppend(&out, first ? "" : ",", JsonQuote(key), ":",
                    JsonQuote(value));
    first = false;
  }
  out.append("}}");
  return out;
}

std::string ModelInfoToTable(const v1::ModelInfo& info) {
  std::string out = absl::StrCat(
      "kind: ", info.kind(), "\n", "dtype: ", info.dtype(), "\n",
      "num_items: ", info.num_items(), "\n", "rank: ", info.rank(), "\n",
      "fingerprint: ", info.fingerprint(), "\n",
      "format_version: ", info.format_version(), "\n",
      "file_size_bytes: ", info.file_size_bytes(), "\n",
      "model_version: ", info.model_version(), "\n", "nnz: ", info.nnz(), "\n",
      "density: ", absl::StrFormat("%.6g", info.density()), "\n",
      "model_name: ", info.model_name(), "\n",
      "served_versions: ", absl::StrJoin(info.served_versions(), ","), "\n");
  for (const auto& [label, version] : SortedLabels(info)) {
    absl::StrAppend(&out, "version_labels.", label, ": ", version, "\n");
  }
  for (const auto& [key, value] : SortedMetadata(info)) {
    absl::StrAppend(&out, "metadata.", key, ": ", value, "\n");
  }
  return out;
}

std::string HealthToJson(const std::string& service, ServingStatus status) {
  return absl::StrCat("{\"service\":", JsonQuote(service),
                      ",\"status\":", JsonQuote(ServingStatusName(status)),
                      "}");
}

}  // namespace edlae::client
