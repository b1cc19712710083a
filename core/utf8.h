// UTF-8 validation for ids and metadata, which travel in protobuf `string` fields.
#ifndef EDLAE_CORE_UTF8_H_
#define EDLAE_CORE_UTF8_H_

#include <string_view>

namespace edlae {

// True when `s` is well-formed UTF-8: no overlong encodings, surrogates
// (U+D800..U+DFFF) or code points above U+10FFFF. Protobuf rejects strings
// that are not, so every id and metadata value must pass before it is stored.
bool IsValidUtf8(std::string_view s);

}  // namespace edlae

#endif  // EDLAE_CORE_UTF8_H_
