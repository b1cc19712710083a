// Lets command lines spell flags with dashes (--min-rating) for abseil flags named with underscores.
#ifndef EDLAE_CORE_FLAG_NAMES_H_
#define EDLAE_CORE_FLAG_NAMES_H_

#include <algorithm>
#include <string>
#include <vector>

namespace edlae {

// Returns argv with '-' replaced by '_' in the name part of every "--name" or
// "--name=value" argument (values are untouched; "--" ends flag parsing).
// Keep the returned strings alive while the char* view from FlagArgv is used.
inline std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& arg = out[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg[0] != '-' || arg[1] != '-') continue;
    const size_t end = arg.find('=');
    for (size_t k = 2; k < std::min(end, arg.size()); ++k) {
      if (arg[k] == '-') arg[k] = '_';
    }
  }
  return out;
}

// char* view of `args` suitable for absl::ParseCommandLine.
inline std::vector<char*> FlagArgv(std::vector<std::string>& args) {
  std::vector<char*> out;
  out.reserve(args.size() + 1);
  for (std::string& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace edlae

#endif  // EDLAE_CORE_FLAG_NAMES_H_
