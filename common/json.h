// JSON text pieces every writer of JSON shares (the clients' --json output,
// JSONL recommendation files): quoted strings and float numbers.
#ifndef EDLAE_COMMON_JSON_H_
#define EDLAE_COMMON_JSON_H_

#include <string>
#include <string_view>

namespace edlae {

// Appends `value` as a JSON string literal to `out`: quotes, with '"', '\\'
// and every control character below 0x20 escaped (\b \f \n \r \t, else
// \u00XX). Other bytes, UTF-8 included, are copied as they are.
void AppendJsonString(std::string_view value, std::string* out);

// `value` as a JSON string literal (AppendJsonString).
std::string JsonQuote(std::string_view value);

// The shortest decimal that reads back as exactly `value` (std::to_chars),
// e.g. "0.1", "1e-05", "2009"; "null" for NaN and ±infinity, which JSON
// cannot write.
std::string JsonFloat(float value);

}  // namespace edlae

#endif  // EDLAE_COMMON_JSON_H_
