// Text and JSON renderings of edlae-client results (JSON keys are the proto
// field names).
#ifndef EDLAE_CLIENT_OUTPUT_FORMAT_H_
#define EDLAE_CLIENT_OUTPUT_FORMAT_H_

#include <string>
#include <string_view>

#include "client/recommender_client.h"
#include "common/json.h"
#include "edlae/v1/recommender.pb.h"

namespace edlae::client {

// JSON strings and numbers are common/json.h's (as in JSONL files).
using ::edlae::JsonFloat;
using ::edlae::JsonQuote;

// One JSON object (no trailing newline) whose keys are the proto field names,
// so google::protobuf::util::JsonStringToMessage reads it back:
//   {"items":[{"item_id":"…","score":…},…],"model_fingerprint":"…",
//    "unknown_item_count":N,"popularity_fallback":false,"model_version":N}
// An explained item also has "contributions":[{"item_id":"…",
// "contribution":…},…] (left out when it has none).
std::string RecommendResponseToJson(const v1::RecommendResponse& response);

// A table "rank  item_id  score", one row per item (an explained item is
// followed by one "      <- ITEM_ID  +CONTRIBUTION" line per contribution),
// then one summary line:
// "fingerprint=… unknown_items=N popularity_fallback=false model_version=N".
// Ends with a newline.
std::string RecommendResponseToTable(const v1::RecommendResponse& response);

// ModelInfo as one JSON object with proto field names (metadata keys sorted).
std::string ModelInfoToJson(const v1::ModelInfo& info);

// ModelInfo as "key: value" lines, metadata keys sorted. Ends with a newline.
std::string ModelInfoToTable(const v1::ModelInfo& info);

// {"service":"…","status":"SERVING"}
std::string HealthToJson(const std::string& service, ServingStatus status);

}  // namespace edlae::client

#endif  // EDLAE_CLIENT_OUTPUT_FORMAT_H_
