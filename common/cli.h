// The flag layer of edlae-train, edlae-server and edlae-client (CLI11): both
// spellings of every flag, help with defaults, and parse errors mapped to exit
// statuses.
#ifndef EDLAE_COMMON_CLI_H_
#define EDLAE_COMMON_CLI_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace edlae::cli {

// Exit statuses the three binaries share (each may add its own between).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;  // bad command line: nothing was done

// Applies the house rules to a top-level app; call it before adding
// subcommands, which inherit them: -h/--help, help lists every flag once (by
// its first spelling) with its default, arguments nobody takes are refused,
// and a repeated flag takes its last value.
void Configure(CLI::App& app);

// CLI11 names for a comma-separated list such as "n,top-n": one letter
// becomes "-n"; a longer name is accepted with '-' and with '_' between its
// words ("--top-n,--top_n"), the spelling given first.
std::string Names(std::string_view names);

// An option with a value bound to `value`, whose current value is its default.
template <typename T>
CLI::Option* AddOption(CLI::App& app, std::string_view names, T& value,
                       std::string description) {
  return app.add_option(Names(names), value, std::move(description));
}

// A boolean flag: --name, --name=true|false, --noname (false).
CLI::Option* AddFlag(CLI::App& app, std::string_view name, bool& value,
                     std::string description);

// A duration in absl syntax ("10s", "500ms", "1m30s", "0"); a negative one is
// a usage error. The help shows `value` (the default) in the same syntax.
CLI::Option* AddDuration(CLI::App& app, std::string_view name,
                         absl::Duration& value, std::string description);

// Validators whose messages read "--flag: must be >= 0, got -3".
CLI::Validator AtLeast(double min);
CLI::Validator GreaterThan(double min);
CLI::Validator Between(double min, double max);         // [min, max]
CLI::Validator AtLeastBelow(double min, double bound);  // [min, bound)

// Parses argv into `app`. nullopt: parsed, go on. Otherwise the exit status
// to return at once: 0 after --help (the selected command's help on stdout),
// kExitUsage after a usage error ("<program>: <what is wrong>", then the
// selected command's flags on stderr). "--name=" gives the flag an empty
// value, as "--name ''" does.
std::optional<int> Parse(CLI::App& app, int argc, char** argv);

// For checks after Parse: "<program> <command>: <message>" and `command`'s
// help on stderr. Returns kExitUsage.
int UsageError(const CLI::App& command, absl::string_view message);

}  // namespace edlae::cli

#endif  // EDLAE_COMMON_CLI_H_
